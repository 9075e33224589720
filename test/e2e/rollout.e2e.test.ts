import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, E2E_SECRETS, freePort, sendPush, startController, type Controller } from "./controller";
import { publishAgent, REGISTRY, removeContainers, requireServices, startAgent, waitFor, type AgentProcess } from "./agent/services";
import { ScriptedAgent } from "./scripted-agent";

// A fleet rollout end to end: the real controller (wrangler dev), one real .NET agent deploying with Docker as the
// canary, five scripted agents for the rest, driven by a signed push and by `ctl deploy --wait` as a subprocess.

const suffix = randomBytes(4).toString("hex");
const CANARY = `fleet-real-${suffix}`;
const SCRIPTED = Array.from({ length: 5 }, (_, i) => `fleet-s${i + 2}-${suffix}`);
const CONTAINER = `dbe2e-fleet-${suffix}`;
const REPO = "e2e/fleet";

let controller: Controller;
let executable: string;
let stateDir: string;
let agent: AgentProcess | undefined;
let port: number;
let stopScripted = false;
const scriptedRuns: Promise<void>[] = [];
/** Jobs each scripted host ran, in order. */
const ran = new Map<string, Array<{ id: string; sha: string; rollout_id: string | null }>>();

/** A scripted host's agent: takes each job, says it runs, says it succeeded. */
async function scriptedHost(hostname: string): Promise<void> {
  const agent = await ScriptedAgent.register(controller, hostname);
  ran.set(hostname, []);
  while (!stopScripted) {
    const beat = await agent.heartbeat(null, 2).catch(() => null);
    const job = beat?.body?.job;
    if (!job) continue;
    ran.get(hostname)!.push({ id: job.id, sha: job.sha, rollout_id: job.rollout_id });
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    await agent.log(job.id, [`scripted deploy of ${job.sha.slice(0, 7)} on ${hostname}`]);
    await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
  }
}

function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = new URL("../../cli/dist/cli/src/cli.js", import.meta.url).pathname;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, DEPLOYBOT_URL: controller.url, DEPLOYBOT_TOKEN: E2E_SECRETS.DEPLOYBOT_API_TOKENS, NO_COLOR: "1" }, timeout: 180_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function rollout(id: string) {
  return (await (await api(controller, `/v1/rollouts/${id}`)).json()) as any;
}

async function serving(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
  return (await res.text()).trim();
}

beforeAll(async () => {
  await requireServices();
  execFileSync("npx", ["tsc", "-p", new URL("../../cli", import.meta.url).pathname]);
  [executable, controller] = await Promise.all([publishAgent(), startController()]);
  port = await freePort();
  stateDir = mkdtempSync(join(tmpdir(), "deploybot-fleet-state-"));
  const yaml = [
    "version: 1",
    "defaults: { lease: 60s, retries: 0 }",
    "hosts:",
    ...[CANARY, ...SCRIPTED].map((host) => `  ${host}: { mode: agent }`),
    "apps:",
    "  fleet:",
    `    repo: ${REPO}`,
    '    tags: ["v*", "broken"]',
    `    hosts: [${[CANARY, ...SCRIPTED].join(", ")}]`,
    `    rollout: { canary: [${CANARY}], batch: 2 }`,
    "    deploy:",
    `      image: ${REGISTRY}/deploybot/hello:{branch}`,
    `      container: ${CONTAINER}`,
    `      ports: ["127.0.0.1:${port}:80"]`,
    `      health: { url: "http://127.0.0.1:${port}/up", timeout: 10s }`,
    "",
  ].join("\n");
  const res = await api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
  expect(res.status, await res.clone().text()).toBe(200);
  agent = startAgent(executable, { DEPLOYBOT_URL: controller.url, DEPLOYBOT_ENROLL_TOKEN: E2E_SECRETS.AGENT_ENROLL_TOKEN, DEPLOYBOT_HOSTNAME: CANARY, DEPLOYBOT_STATE_DIR: stateDir });
  for (const host of SCRIPTED) scriptedRuns.push(scriptedHost(host));
  await waitFor("every host online", async () => {
    const { hosts } = (await (await api(controller, "/v1/hosts")).json()) as { hosts: Array<{ name: string; online: boolean }> };
    return hosts.every((h) => h.online) ? true : undefined;
  }, 60_000);
}, 400_000);

afterAll(async () => {
  stopScripted = true;
  await Promise.allSettled(scriptedRuns);
  agent?.child.kill("SIGKILL");
  await controller?.dispose();
  await removeContainers(CONTAINER).catch(() => undefined);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  if (executable) rmSync(dirname(executable), { recursive: true, force: true });
});

describe("a rollout to a fleet", () => {
  it("a signed push goes canary first (the real agent, with Docker), then two hosts at a time, and succeeds", async () => {
    const sha = randomBytes(20).toString("hex");
    const res = await sendPush(controller, { repo: REPO, ref: "refs/tags/v1", sha });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { jobs: Array<{ host: string }>; rollouts: Array<{ id: string }> };
    expect(answer.jobs.map((j) => j.host)).toEqual([CANARY]);
    const id = answer.rollouts[0]!.id;
    const done = await waitFor(`rollout ${id} succeeded\n${agent?.output()}`, async () => {
      const r = await rollout(id);
      return r.status === "succeeded" ? r : r.status === "running" ? undefined : Promise.reject(new Error(JSON.stringify(r)));
    }, 120_000);
    expect(done.waves.map((w: any) => w.hosts)).toEqual([[CANARY], SCRIPTED.slice(0, 2), SCRIPTED.slice(2, 4), SCRIPTED.slice(4)]);
    expect(await serving()).toBe("hello v1");
    for (const host of SCRIPTED) expect(ran.get(host)!.map((j) => j.rollout_id)).toEqual([id]);
  });

  it("ctl deploy --wait releases to every host as a rollout, shows each host, and exits 0; ctl apps shows the matrix", async () => {
    const sha = randomBytes(20).toString("hex");
    const result = await ctl("deploy", "--app", "fleet", "--ref", "v2", "--sha", sha, "--wait");
    expect(result.code, result.stderr).toBe(0);
    for (const host of [CANARY, ...SCRIPTED]) expect(result.stderr).toMatch(new RegExp(`${host}  succeeded`));
    expect(result.stderr).toMatch(/rollout fleet\.[0-9a-f-]+ succeeded/);
    expect(await serving()).toBe("hello v2");
    const apps = await ctl("apps");
    expect(apps.code).toBe(0);
    for (const host of [CANARY, ...SCRIPTED]) expect(apps.stdout).toMatch(new RegExp(`fleet\\s+${host}\\s+v2@${sha.slice(0, 7)}`));
  });

  it("a failing canary stops the rollout: ctl exits 1, the other hosts get nothing, v2 still serves", async () => {
    const before = new Map(SCRIPTED.map((host) => [host, ran.get(host)!.length]));
    const result = await ctl("deploy", "--app", "fleet", "--ref", "broken", "--sha", randomBytes(20).toString("hex"), "--wait");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`rollout fleet\\.[0-9a-f-]+ failed: rollout .* stopped: job ${CANARY}\\.[0-9a-f-]+ failed on ${CANARY}`));
    for (const host of SCRIPTED) expect(ran.get(host)!.length).toBe(before.get(host));
    expect(await serving()).toBe("hello v2");
  });
});
