import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upstreamOf, routeId } from "../../ssh-relay/src/caddy.ts";
import { requireCaddy, startCaddy, type TestCaddy } from "../../ssh-relay/test/helpers/caddy.ts";
import { startLoad } from "../../ssh-relay/test/helpers/load.ts";
import { publishAgent, requireServices, startAgent, waitFor, type AgentProcess } from "./agent/services.ts";
import { api, E2E_SECRETS, freePort, sendPush, waitForJobEnd } from "./controller.ts";
import { startSshStack, type SshStack } from "./ssh-stack.ts";

// Zero-downtime deploys end to end, in both modes, as a user runs them: signed pushes to the real controller;
// the published .NET agent (agent host) and the real relay over a real sshd (ssh host) deploy to the real Docker
// engine behind a real Caddy; a load loop hits each app's public address the whole time. Fails, never skips,
// without Docker, the registry, sshd, caddy or the .NET SDK.

const suffix = randomBytes(3).toString("hex");
const AGENT_HOST = `cut-agent-${suffix}`;
const WEB_AGENT = `dbcut-a-${suffix}`;
const WEB_SSH = `dbcut-s-${suffix}`;
let stack: SshStack;
let caddy: TestCaddy;
let executable: string;
let stateDir: string;
let agent: AgentProcess | undefined;
let agentListen: number;
let sshListen: number;
let n = 0;

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
const names = (prefix: string) => docker("ps", "-a", "--filter", `name=^${prefix}`, "--format", "{{.Names}}").split("\n").filter(Boolean).sort();
const page = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();

function config(): string {
  const app = (name: string, host: string, listen: number, container: string) => `  ${name}:
    repo: acme/${name}
    tags: ["*"]
    hosts: [${host}]
    deploy:
      image: "127.0.0.1:5000/deploybot/hello:{branch}"
      container: ${container}
      proxy: { listen: "127.0.0.1:${listen}", app_port: 80, drain: 5s, admin: "${caddy.admin}" }
      health: { path: /up, timeout: 10s }
`;
  return stack.config().replace(/^apps:\n[\s\S]*$/m, `apps:\n${app("web-agent", AGENT_HOST, agentListen, WEB_AGENT)}${app("web-ssh", "ssh-e2e", sshListen, WEB_SSH)}`)
    .replace("hosts:\n", `hosts:\n  ${AGENT_HOST}: { mode: agent }\n`)
    // A busy agent heartbeats every lease/3: a short lease brings a cancel to it within 2 s.
    .replace(/^defaults: .*$/m, "defaults: { lease: 6s, retries: 0 }");
}

async function push(app: string, tag: string): Promise<string> {
  const res = await sendPush(stack.controller, { repo: `acme/${app}`, ref: `refs/tags/${tag}`, sha: (++n).toString(16).padStart(40, "0") });
  const body = (await res.json()) as { jobs: Array<{ id: string }> };
  expect(res.status, JSON.stringify(body)).toBe(202);
  return body.jobs[0]!.id;
}

const finished = (jobId: string) => waitForJobEnd(stack.controller, jobId, 150_000);

/** The job's whole log, read from its SSE stream after it ended. */
async function logOf(jobId: string): Promise<string> {
  return (await api(stack.controller, `/v1/logs/stream?job_id=${jobId}`)).text();
}

function startTheAgent(): void {
  agent = startAgent(executable, {
    DEPLOYBOT_URL: stack.controller.url,
    DEPLOYBOT_ENROLL_TOKEN: E2E_SECRETS.AGENT_ENROLL_TOKEN,
    DEPLOYBOT_HOSTNAME: AGENT_HOST,
    DEPLOYBOT_STATE_DIR: stateDir,
  });
}

beforeAll(async () => {
  await requireServices();
  requireCaddy();
  [executable, stack, caddy] = await Promise.all([publishAgent(), startSshStack("cutover"), startCaddy()]);
  // A port freePort() found free may be found again until something listens on it: take two different ones.
  agentListen = await freePort();
  do sshListen = await freePort();
  while (sshListen === agentListen);
  stateDir = mkdtempSync(join(tmpdir(), "deploybot-cutover-state-"));
  const put = await api(stack.controller, "/v1/config", { method: "PUT", body: config(), headers: { "content-type": "application/yaml" } });
  expect(put.status, await put.clone().text()).toBe(200);
  startTheAgent();
  await waitFor(`agent ${AGENT_HOST} online\n${agent?.output()}`, async () => {
    const host = (await (await api(stack.controller, `/v1/hosts/${AGENT_HOST}`)).json()) as { online: boolean };
    return host.online ? host : undefined;
  }, 30_000);
}, 400_000);

afterAll(async () => {
  agent?.child.kill("SIGKILL");
  for (const prefix of [WEB_AGENT, WEB_SSH]) for (const name of names(prefix)) docker("rm", "-f", name);
  await stack?.dispose();
  await caddy?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  if (executable) rmSync(dirname(executable), { recursive: true, force: true });
});

describe.each([
  { mode: "agent", app: "web-agent", container: () => WEB_AGENT, listen: () => agentListen },
  { mode: "ssh", app: "web-ssh", container: () => WEB_SSH, listen: () => sshListen },
])("cutover in $mode mode under a load loop", ({ app, container, listen }) => {
  it("v1, then three replacing deploys (one slow to start): every request answered, one container left", async () => {
    expect(await finished(await push(app, "v1"))).toMatchObject({ status: "succeeded" });
    const load = startLoad(`http://127.0.0.1:${listen()}/`);
    await load.successes(5);
    let lastJob = "";
    for (const tag of ["v2", "slow", "v2"]) {
      lastJob = await push(app, tag);
      expect(await finished(lastJob)).toMatchObject({ status: "succeeded" });
    }
    await load.successes(5);
    const report = await load.stop();
    expect(report.failed, report.failures.join("; ")).toBe(0);
    expect(names(container())).toEqual([container()]);
    expect(await page(listen())).toBe("hello v2");
    expect(upstreamOf(await caddy.config(), routeId(container()))).toBe(docker("port", container(), "80/tcp"));
    const log = await logOf(lastJob);
    for (const told of ["new container started", "healthy after", "traffic switched to", "old release drained after", "removed the old release"]) expect(log).toContain(told);
  });

  it("docker restarts the release (crash, dockerd restart): it keeps its loopback port and Caddy still reaches it", async () => {
    const before = docker("port", container(), "80/tcp");
    docker("restart", "--time", "1", container());
    expect(docker("port", container(), "80/tcp")).toBe(before);
    expect(upstreamOf(await caddy.config(), routeId(container()))).toBe(before);
    // busybox httpd listens a moment after the container starts again.
    const answer = await waitFor("the app behind Caddy after the restart", async () => {
      const res = await fetch(`http://127.0.0.1:${listen()}/`);
      return res.ok ? (await res.text()).trim() : undefined;
    }, 15_000, 100);
    expect(answer).toBe("hello v2");
  });

  it("a release that fails health: the job fails at health, every request answered, v2 still serves", async () => {
    const load = startLoad(`http://127.0.0.1:${listen()}/`);
    await load.successes(5);
    const job = await finished(await push(app, "broken"));
    const report = await load.stop();
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(/^failed at health: .* did not answer 2xx within 10 ?s.*; the previous release kept serving$/);
    expect(report.failed, report.failures.join("; ")).toBe(0);
    expect(names(container())).toEqual([container()]);
    expect(await page(listen())).toBe("hello v2");
  });

  it("a cancel during the health wait: every request answered, v2 still serves", async () => {
    const load = startLoad(`http://127.0.0.1:${listen()}/`);
    await load.successes(5);
    // hello:broken never answers /up with a 2xx: the cancel lands in the 10 s health wait.
    const jobId = await push(app, "broken");
    await waitFor("the new container", async () => (names(`${container()}-next-`).length ? true : undefined), 60_000, 50);
    expect((await api(stack.controller, `/v1/jobs/${jobId}/cancel`, { method: "POST" })).status).toBe(202);
    const job = await finished(jobId);
    const report = await load.stop();
    expect(job.status).toBe("cancelled");
    expect(report.failed, report.failures.join("; ")).toBe(0);
    expect(names(container())).toEqual([container()]);
    expect(await page(listen())).toBe("hello v2");
  });
});

describe("a cutover killed after its switch (kill -9), then the next start or deploy", () => {
  /** Waits until Caddy's route for CONTAINER points at a `-next-` container: the switch happened, the old release is not yet gone. */
  const switched = (name: string, before: string | null) =>
    waitFor(`the switch of ${name}`, async () => {
      const now = upstreamOf(await caddy.config(), routeId(name));
      return now && now !== before ? now : undefined;
    }, 60_000, 20);

  it("agent: after its restart exactly one release serves behind the proxy, and the next deploy works", async () => {
    const load = startLoad(`http://127.0.0.1:${agentListen}/`);
    await load.successes(5);
    const before = upstreamOf(await caddy.config(), routeId(WEB_AGENT));
    const jobId = await push("web-agent", "v1");
    await switched(WEB_AGENT, before);
    agent!.child.kill("SIGKILL");
    await agent!.exited;
    startTheAgent();
    const job = await finished(jobId);
    expect(job.error ?? "").toContain("one release serves behind the proxy");
    await waitFor("one container", async () => (names(WEB_AGENT).length === 1 ? true : undefined), 30_000);
    expect(names(WEB_AGENT)).toEqual([WEB_AGENT]);
    expect(await page(agentListen)).toBe("hello v1");
    expect(await finished(await push("web-agent", "v2"))).toMatchObject({ status: "succeeded" });
    const report = await load.stop();
    expect(report.failed, report.failures.join("; ")).toBe(0);
    expect(await page(agentListen)).toBe("hello v2");
  });

  it("relay: the next deploy repairs to one release first, and succeeds", async () => {
    const load = startLoad(`http://127.0.0.1:${sshListen}/`);
    await load.successes(5);
    const before = upstreamOf(await caddy.config(), routeId(WEB_SSH));
    const jobId = await push("web-ssh", "v1");
    await switched(WEB_SSH, before);
    await stack.relay.kill();
    await stack.relay.start();
    await finished(jobId);
    const next = await push("web-ssh", "v2");
    expect(await finished(next)).toMatchObject({ status: "succeeded" });
    const report = await load.stop();
    expect(report.failed, report.failures.join("; ")).toBe(0);
    expect(names(WEB_SSH)).toEqual([WEB_SSH]);
    expect(await page(sshListen)).toBe("hello v2");
    expect((await logOf(jobId)) + (await logOf(next))).toMatch(/repair: .*-next-.*, which the proxy serves, is now /);
  });
});
