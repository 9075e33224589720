import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, hostStub, openSse, putConfig, sendWebhook, settleHistory, sha } from "./helpers";
import { RELAY_TS } from "./fake-relay";

// ssh hosts run through the relay (here the fake of test/fake-relay.ts: the image tag steers it).
const config = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  agent-01: { mode: agent }
  ssh-01:
    mode: ssh
    ssh: { address: 127.0.0.1, port: 2222, user: deploy, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }
  ssh-02:
    mode: ssh
    ssh: { address: 10.9.9.9, user: deploy, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }
apps:
  api:
    repo: acme/api
    branches: ["*"]
    hosts: [ssh-01, ssh-02, agent-01]
    deploy: { image: "registry.test/api:{branch}", container: api }
  side:
    repo: acme/side
    branches: ["*"]
    hosts: [ssh-01]
    deploy: { image: "registry.test/side:{branch}", container: side }
`;

beforeAll(async () => {
  expect((await putConfig(config)).status).toBe(200);
});

let n = 0;
const deploy = (ref: string, host = "ssh-01", app = "api") =>
  callJson("/v1/deploy/ssh", { method: "POST", body: JSON.stringify({ app, ref, sha: sha(9000 + ++n), host }) });

/** Waits until the job leaves queued/running (the relay runs it in the object's background). */
async function settled(host: string, id: string) {
  for (let i = 0; i < 100; i++) {
    const job = await hostStub(host).getJob(id);
    if (job && !["queued", "running"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

describe("POST /v1/deploy/ssh", () => {
  it("queues a deploy that the host's object runs through the relay, with its log", async () => {
    const res = await deploy("main");
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ mode: "ssh", host: "ssh-01", status: "queued" });
    const job = await settled("ssh-01", res.body.id);
    expect(job).toMatchObject({ status: "succeeded", agent_id: "ssh-relay", attempt: 1 });
    const lines = await hostStub("ssh-01").jobLogs(job.id);
    expect(lines.map((l) => l.text)).toEqual(expect.arrayContaining(["pulling registry.test/api:main", `started api for ${job.id}`]));
    // The relay's own time of a line is kept (as an agent's is): the job log tells when things happened on the host.
    expect(lines.find((l) => l.text.startsWith("pulling"))?.ts).toBe(RELAY_TS);
    expect(Date.parse(lines.find((l) => l.text.startsWith("started"))!.ts)).toBeGreaterThan(Date.parse(RELAY_TS));
    await settleHistory("ssh-01");
    expect((await callJson(`/v1/jobs/${job.id}`)).body.status).toBe("succeeded");
  });

  it("refuses an agent host (409), an unknown host (404) and an app not on the host (422)", async () => {
    expect(await deploy("main", "agent-01")).toMatchObject({ status: 409, body: { error: { code: "not_an_ssh_host" } } });
    expect(await deploy("main", "nope")).toMatchObject({ status: 404 });
    expect((await deploy("main", "ssh-02", "side")).status).toBe(422);
  });

  it("runs webhook pushes to ssh hosts the same way, unasked", async () => {
    const hook = await sendWebhook("push", { ref: "refs/heads/main", after: sha(777), repository: { full_name: "acme/api" } });
    const jobs = ((await hook.json()) as any).jobs;
    const onSsh = jobs.find((j: any) => j.host === "ssh-01");
    expect(onSsh).toMatchObject({ mode: "ssh" });
    expect(jobs.find((j: any) => j.host === "agent-01")).toMatchObject({ mode: "agent", status: "queued" });
    expect(await settled("ssh-01", onSsh.id)).toMatchObject({ status: "succeeded" });
  });

  it("fails with the step and the rollback when the deploy fails", async () => {
    const { body } = await deploy("fail");
    expect(await settled("ssh-01", body.id)).toMatchObject({
      status: "failed",
      error: "failed at health: /up answered 503 for 30s; previous container restored",
    });
  });

  it("fails at once, with no retry, when the host key does not match", async () => {
    const { body } = await deploy("main", "ssh-02");
    const job = await settled("ssh-02", body.id);
    expect(job).toMatchObject({ status: "failed", attempt: 1 });
    expect(job.error).toMatch(/^host_key_mismatch: host key mismatch/);
  });

  it("retries per policy when the relay's stream breaks, then fails", async () => {
    const { body } = await deploy("drop");
    const job = await settled("ssh-01", body.id);
    expect(job).toMatchObject({ status: "failed", attempt: 2 });
    expect(job.error).toMatch(/^relay_lost/);
  });

  it("cancels a running ssh deploy through the relay", async () => {
    const { body } = await deploy("slow");
    for (let i = 0; i < 40 && (await hostStub("ssh-01").getJob(body.id))?.status !== "running"; i++) await new Promise((r) => setTimeout(r, 25));
    await settleHistory("ssh-01");
    expect((await callJson(`/v1/jobs/${body.id}/cancel`, { method: "POST" })).status).toBe(202);
    expect(await settled("ssh-01", body.id)).toMatchObject({ status: "cancelled" });
  });

  it("runs one job at a time per host, in order, streaming over SSE like agent jobs", async () => {
    const slow = await deploy("slow");
    const next = await deploy("main", "ssh-01", "side");
    await new Promise((r) => setTimeout(r, 200));
    expect((await hostStub("ssh-01").getJob(next.body.id))?.status).toBe("queued");
    await settleHistory("ssh-01");
    const stream = await openSse(`/v1/logs/stream?job_id=${slow.body.id}`);
    const first = await stream.until((e) => e.event === "log" && /waiting \d+/.test(e.data.text));
    expect(first.at(-1)!.data.stream).toBe("stdout");
    await callJson(`/v1/jobs/${slow.body.id}/cancel`, { method: "POST" });
    const ending = await stream.until((e) => e.event === "end");
    expect(ending.at(-1)!.data.status).toBe("cancelled");
    expect(await settled("ssh-01", next.body.id)).toMatchObject({ status: "succeeded" });
  });
});

describe("POST /v1/ssh/execute", () => {
  const execute = (body: unknown) => callJson("/v1/ssh/execute", { method: "POST", body: JSON.stringify(body) });

  it("returns exit code, stdout, stderr and duration", async () => {
    expect(await execute({ host: "ssh-01", command: "uptime" })).toMatchObject({
      status: 200,
      body: { exit_code: 0, stdout: "ran: uptime\n", stderr: "", duration_ms: 12, truncated: false },
    });
    expect((await execute({ host: "ssh-01", command: "exit 3" })).body).toMatchObject({ exit_code: 3, stderr: "failing on purpose\n" });
  });

  it("answers 404, 409, 400 and 502 with clear codes", async () => {
    expect((await execute({ host: "nope", command: "id" })).status).toBe(404);
    expect(await execute({ host: "agent-01", command: "id" })).toMatchObject({ status: 409, body: { error: { code: "not_an_ssh_host" } } });
    expect((await execute({ host: "ssh-01" })).status).toBe(400);
    expect((await execute({ host: "ssh-01", command: "id", timeout_s: 0 })).status).toBe(400);
    expect(await execute({ host: "ssh-02", command: "id" })).toMatchObject({ status: 502, body: { error: { code: "host_key_mismatch" } } });
    expect(await execute({ host: "ssh-01", command: "break" })).toMatchObject({ status: 502, body: { error: { code: "relay_lost" } } });
    expect((await execute({ host: "ssh-01", command: "   " })).status).toBe(400);
    expect((await call("/v1/ssh/execute", { method: "POST", body: "{}", token: null })).status).toBe(401);
  });
});

describe("GET /v1/ssh/metrics/{hostname}", () => {
  it("returns the host's metrics, and 404/409/502 otherwise", async () => {
    const { status, body } = await callJson("/v1/ssh/metrics/ssh-01");
    expect(status).toBe(200);
    expect(body).toMatchObject({ hostname: "ssh-01", uptime_s: 1234.5, load: [0.1, 0.2, 0.3], memory: { total_bytes: 1000 } });
    expect(body.containers[0]).toMatchObject({ name: "api", state: "running" });
    expect((await callJson("/v1/ssh/metrics/nope")).status).toBe(404);
    expect((await callJson("/v1/ssh/metrics/agent-01")).status).toBe(409);
    expect((await callJson("/v1/ssh/metrics/ssh-02")).status).toBe(502);
  });
});

describe("GET /v1/hosts: what is known about reaching ssh hosts", () => {
  const host = async (name: string) => (await callJson("/v1/hosts")).body.hosts.find((h: any) => h.name === name);

  it("shows a host the relay reaches as online, with its last connection", async () => {
    expect(await host("ssh-01")).toMatchObject({ mode: "ssh", online: true, reachable: true, last_connected_at: "2026-01-03T00:00:00.000Z", unreachable_since: null, reach_error: null });
    expect((await callJson("/v1/hosts/ssh-01")).body).toMatchObject({ online: true, reachable: true });
  });

  it("shows a host the relay cannot reach as offline, since when, and why", async () => {
    expect(await host("ssh-02")).toMatchObject({
      online: false,
      reachable: false,
      last_connected_at: "2026-01-01T00:00:00.000Z",
      unreachable_since: "2026-01-02T00:00:00.000Z",
      reach_error: { code: "host_key_mismatch" },
    });
  });

  it("leaves agent hosts to their heartbeats (reachability fields null)", async () => {
    expect(await host("agent-01")).toMatchObject({ mode: "agent", reachable: null, last_connected_at: null, unreachable_since: null, reach_error: null });
  });

  it("says unknown, not online, when the relay has not tried yet or cannot be asked", async () => {
    const hosts = (extra: string) => `${config.replace("apps:", `  ${extra}\napps:`)}`;
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    expect((await putConfig(hosts(`ssh-new: { mode: ssh, ssh: { address: 10.7.7.7, user: deploy, host_key: "${key}" } }`))).status).toBe(200);
    expect(await host("ssh-new")).toMatchObject({ online: false, reachable: null, reach_error: null });

    expect((await putConfig(hosts(`relay-breaks: { mode: ssh, ssh: { address: 10.6.6.6, user: deploy, host_key: "${key}" } }`))).status).toBe(200);
    const listed = await callJson("/v1/hosts");
    expect(listed.status).toBe(200);
    for (const name of ["ssh-01", "relay-breaks"]) {
      expect(listed.body.hosts.find((h: any) => h.name === name)).toMatchObject({ online: false, reachable: null, reach_error: { code: "relay_unavailable" } });
    }
    expect(listed.body.hosts.find((h: any) => h.name === "agent-01").reach_error).toBeNull();
    expect((await putConfig(config)).status).toBe(200);
  });
});
