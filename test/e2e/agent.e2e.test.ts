import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, E2E_SECRETS, freePort, sendPush, startController, type Controller } from "./controller";
import {
  docker,
  publishAgent,
  readSse,
  REGISTRY,
  removeContainers,
  requireServices,
  startAgent,
  waitFor,
  type AgentProcess,
  type SseEvent,
} from "./agent/services";

// The .NET agent as a host runs it: published self-contained, started with its environment, long-polling the
// real controller (wrangler dev), deploying with the real Docker engine from the local registry. Fails, never
// skips, without Docker, the registry or the .NET SDK.

interface Job {
  id: string;
  status: string;
  attempt: number;
  agent_id: string | null;
  error: string | null;
}
interface LogData {
  job_id: string;
  attempt: number;
  seq: number;
  stream: string;
  text: string;
}

const suffix = randomBytes(4).toString("hex");
const HOST = `e2e-agent-${suffix}`;
const CONTAINER = `dbe2e-hello-${suffix}`;
const REPO = "e2e/hello";

let controller: Controller;
let executable: string;
let stateDir: string;
let agent: AgentProcess | undefined;
let port: number;

function agentEnv(): Record<string, string> {
  return {
    DEPLOYBOT_URL: controller.url,
    DEPLOYBOT_ENROLL_TOKEN: E2E_SECRETS.AGENT_ENROLL_TOKEN,
    DEPLOYBOT_HOSTNAME: HOST,
    DEPLOYBOT_STATE_DIR: stateDir,
  };
}

async function startTheAgent(): Promise<AgentProcess> {
  agent = startAgent(executable, agentEnv());
  return agent;
}

async function stopTheAgent(signal: NodeJS.Signals): Promise<number | string> {
  const current = agent!;
  current.child.kill(signal);
  const code = await Promise.race([current.exited, new Promise<string>((r) => setTimeout(() => r("still running after 30 s"), 30_000))]);
  agent = undefined;
  return code;
}

async function getJob(id: string): Promise<Job> {
  const res = await api(controller, `/v1/jobs/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Job;
}

async function push(tag: string): Promise<Job> {
  const sha = randomBytes(20).toString("hex");
  const res = await sendPush(controller, { repo: REPO, ref: `refs/tags/${tag}`, sha });
  expect(res.status).toBe(202);
  const { jobs } = (await res.json()) as { jobs: Job[] };
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

/**
 * Follows the job's SSE stream until `until` holds for an event. A stream that drops (wrangler dev restarts its
 * worker when src/ changes) is resumed with Last-Event-ID, as EventSource does: no gap, no duplicate.
 */
async function follow(jobId: string, until: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent[]> {
  const deadline = Date.now() + timeoutMs;
  const events: SseEvent[] = [];
  let lastId: string | undefined;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const res = await api(controller, `/v1/logs/stream?job_id=${jobId}`, { headers: lastId ? { "last-event-id": lastId } : {} });
      const got = await readSse(res, until, deadline - Date.now());
      events.push(...got);
      lastId = got.filter((e) => e.id !== undefined).at(-1)?.id ?? lastId;
      if (got.some(until) || got.some((e) => e.event === "end")) return events;
    } catch (error) {
      if (attempt >= 5) throw error;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return events;
}

/** Follows the job's SSE stream to its `end` event. */
async function followToEnd(jobId: string, timeoutMs = 90_000): Promise<SseEvent[]> {
  const events = await follow(jobId, (e) => e.event === "end", timeoutMs);
  if (events.at(-1)?.event !== "end") throw new Error(`the stream of job ${jobId} did not end within ${timeoutMs} ms${failureContext()}`);
  return events;
}

/** Follows the job's SSE stream until a log line contains `text`. */
async function followUntil(jobId: string, text: string, timeoutMs = 60_000): Promise<SseEvent[]> {
  const has = (e: SseEvent) => e.event === "log" && (e.data as LogData).text.includes(text);
  const events = await follow(jobId, has, timeoutMs);
  if (!events.some(has)) throw new Error(`the stream of job ${jobId} had no line containing "${text}"${failureContext()}`);
  return events;
}

function logLines(events: SseEvent[], jobId: string): LogData[] {
  return events.filter((e) => e.event === "log").map((e) => e.data as LogData).filter((l) => l.job_id === jobId);
}

async function serving(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
  return (await res.text()).trim();
}

async function containerNames(): Promise<string[]> {
  return (await docker("ps", "-a", "--filter", `name=^${CONTAINER}`, "--format", "{{.Names}}")).split("\n").filter(Boolean).sort();
}

function failureContext(): string {
  return `\n--- agent output ---\n${agent?.output() ?? "(not running)"}`;
}

beforeAll(async () => {
  await requireServices();
  [executable, controller] = await Promise.all([publishAgent(), startController()]);
  port = await freePort();
  stateDir = mkdtempSync(join(tmpdir(), "deploybot-agent-state-"));

  const yaml = [
    "version: 1",
    "defaults:",
    "  lease: 60s",
    "  retries: 0",
    "hosts:",
    `  ${HOST}: { mode: agent }`,
    "apps:",
    "  hello:",
    `    repo: ${REPO}`,
    '    tags: ["v*", "broken"]',
    `    hosts: [${HOST}]`,
    "    deploy:",
    `      image: ${REGISTRY}/deploybot/hello:{branch}`,
    `      container: ${CONTAINER}`,
    `      ports: ["127.0.0.1:${port}:80"]`,
    "      env: { APP_ENV: e2e }",
    `      health: { url: "http://127.0.0.1:${port}/up", timeout: 10s }`,
    "",
  ].join("\n");
  const res = await api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
  expect(res.status, await res.clone().text()).toBe(200);

  await startTheAgent();
}, 400_000);

afterAll(async () => {
  if (agent) agent.child.kill("SIGKILL");
  await controller?.dispose();
  await removeContainers(CONTAINER).catch(() => undefined);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  if (executable) rmSync(dirname(executable), { recursive: true, force: true });
});

describe("the .NET agent against the real controller and Docker", () => {
  it("registers, keeps its identity in a 0600 state file, and shows online", async () => {
    const host = await waitFor(
      `host ${HOST} online${failureContext()}`,
      async () => {
        const body = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { online: boolean; agent_id: string | null };
        return body.online ? body : undefined;
      },
      30_000,
    );
    expect(host.agent_id).toBeTruthy();
    expect(statSync(join(stateDir, "agent.json")).mode & 0o777).toBe(0o600);
  });

  it("deploys v1 from a signed push, streams its log over SSE, and the job succeeds", async () => {
    const job = await push("v1");
    const events = await followToEnd(job.id);
    const lines = logLines(events, job.id);
    const texts = lines.map((l) => l.text);
    expect(texts.some((t) => t.includes(`pulling ${REGISTRY}/deploybot/hello:v1`)), texts.join("\n") + failureContext()).toBe(true);
    expect(texts.some((t) => t.startsWith("healthy:")), texts.join("\n")).toBe(true);
    // The agent's own lines: seq 1, 2, 3… with no gap and no duplicate.
    const seqs = lines.filter((l) => l.stream !== "system").map((l) => l.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ event: "end", data: { job_id: job.id, status: "succeeded" } });
    expect((await getJob(job.id)).status).toBe("succeeded");
    expect(await serving()).toBe("hello v1");
  });

  it("deploys v2 over v1", async () => {
    const job = await push("v2");
    await followToEnd(job.id);
    expect(await getJob(job.id), failureContext()).toMatchObject({ status: "succeeded", error: null });
    expect(await serving()).toBe("hello v2");
    expect(await containerNames()).toEqual([CONTAINER]);
  });

  it("fails a broken release at its health check and keeps v2 serving", async () => {
    const job = await push("broken");
    await followToEnd(job.id);
    const done = await getJob(job.id);
    expect(done.status, failureContext()).toBe("failed");
    expect(done.error).toMatch(/^failed at health: .*previous container restored$/);
    expect(await serving()).toBe("hello v2");
    expect(await containerNames()).toEqual([CONTAINER]);
  });

  it("after kill -9 mid-deploy, the restarted agent restores v2 and reports the job interrupted", async () => {
    const before = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { agent_id: string };
    const job = await push("broken");
    await followUntil(job.id, "waiting up to");
    expect(await stopTheAgent("SIGKILL")).toBe("SIGKILL");
    // Killed mid-health-wait: the broken release holds the name, v2 is parked and stopped.
    expect(await containerNames()).toEqual([CONTAINER, `${CONTAINER}-previous-${job.id}`].sort());
    expect((await getJob(job.id)).status).toBe("running");

    await startTheAgent();
    const done = await waitFor(
      `job ${job.id} to end${failureContext()}`,
      async () => {
        const current = await getJob(job.id);
        return current.status === "running" ? undefined : current;
      },
      30_000,
    );
    expect(done.status).toBe("failed");
    expect(done.error).toBe("interrupted: agent restarted mid-deploy; previous container restored");
    expect(await serving()).toBe("hello v2");
    expect(await containerNames()).toEqual([CONTAINER]);
    // The same identity came back from the state file: no new registration.
    const after = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { agent_id: string };
    expect(after.agent_id).toBe(before.agent_id);
  });

  it("on SIGTERM mid-deploy, rolls back, reports the job, and exits 0", async () => {
    const job = await push("broken");
    await followUntil(job.id, "waiting up to");
    const code = await stopTheAgent("SIGTERM");
    expect(code, failureContext()).toBe(0);
    const done = await getJob(job.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/^cancelled at health: .*previous container restored \(the agent was stopping\)$/);
    expect(await serving()).toBe("hello v2");
    expect(await containerNames()).toEqual([CONTAINER]);
  });

  it("revoked mid-deploy: the job ends agent_revoked, the agent rolls back and exits 78 without registering again", async () => {
    const running = await startTheAgent();
    const { agent_id: agentId } = await waitFor(
      "the agent online again",
      async () => {
        const body = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { online: boolean; agent_id: string };
        return body.online ? body : undefined;
      },
      30_000,
    );
    const job = await push("broken");
    await followUntil(job.id, "waiting up to");

    const revoked = await api(controller, `/v1/agents/${agentId}`, { method: "DELETE" });

    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { failed_jobs: string[] }).failed_jobs).toEqual([job.id]);
    const code = await Promise.race([running.exited, new Promise<string>((r) => setTimeout(() => r("still running after 60 s"), 60_000))]);
    agent = undefined;
    expect(code, running.output()).toBe(78);
    expect(running.output()).toMatch(new RegExp(`Agent ${agentId} was revoked by an operator`));
    expect(await getJob(job.id)).toMatchObject({ status: "failed", error: "agent_revoked" });
    expect(await serving()).toBe("hello v2");
    expect(await containerNames()).toEqual([CONTAINER]);
    const host = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { online: boolean; agent_id: string | null };
    expect(host.online).toBe(false);
  });
});
