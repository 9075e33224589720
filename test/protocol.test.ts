import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LINE_CUT_MARKER, LOG_LIMIT_MARKER } from "../src/host/logs";
import fixture from "./fixtures/apps.test.yaml";
import { callJson, ENROLL, hostStub, openSse, putConfig, scriptedAgent, sendWebhook, settleHistory, sha, withFakeClock } from "./helpers";

// Short leases so expiry can be watched; one retry.
const config = fixture
  .replace("lease: 60s", "lease: 1s")
  .replace('env: { APP_ENV: production, REF: "{branch}" }', 'env: { APP_ENV: production, REF: "{branch}", API_TOKEN: "tok-very-secret-123", DB_PASSWORD: "hunter2hunter2" }');

let pushCount = 0;
/** A push of Hello-World's master with a fresh sha: one job on host-01 and one on host-02. */
async function push(): Promise<Record<string, string>> {
  const res = await sendWebhook("push", { ref: "refs/heads/master", after: sha(1000 + ++pushCount), repository: { full_name: "Codertocat/Hello-World" } });
  const body = (await res.json()) as any;
  return Object.fromEntries(body.jobs.map((j: any) => [j.host, j.id]));
}

/** Hands out and finishes whatever is queued or running on a host, so each test starts from an idle host. */
async function drain(host: string) {
  const stub = hostStub(host);
  for (const job of await stub.queued()) await stub.cancel(job.id, "test cleanup");
  const running = (await stub.state()).running_job_id;
  if (running) {
    // Cancel it and let its lease run out now, through the real expiry path, on the object's fake clock.
    await stub.cancel(running, "test cleanup");
    await withFakeClock(host, async (clock) => {
      await clock.advance(60_000);
      await runDurableObjectAlarm(stub);
    });
    expect((await stub.state()).running_job_id).toBeNull();
  }
}

async function takeJob(agent: Awaited<ReturnType<typeof scriptedAgent>>) {
  const beat = await agent.heartbeat();
  expect(beat.status).toBe(200);
  expect(beat.body.job).not.toBeNull();
  return beat.body.job;
}

beforeAll(async () => {
  expect((await putConfig(config)).status).toBe(200);
});

describe("long poll", () => {
  it("answers a waiting agent as soon as a job is queued", async () => {
    const agent = await scriptedAgent("host-02");
    await drain("host-02");
    const waiting = agent.heartbeat(null, 10);
    await new Promise((r) => setTimeout(r, 200));
    const jobs = await push();
    const beat = await waiting;
    expect(beat.status).toBe(200);
    expect(beat.body.job).toMatchObject({ id: jobs["host-02"], status: "running", agent_id: agent.id });
    await agent.status(beat.body.job.id, { status: "succeeded", exit_code: 0 });
  });

  it("answers with no job when the wait runs out", async () => {
    const agent = await scriptedAgent("host-02");
    await drain("host-02");
    const started = Date.now();
    const beat = await agent.heartbeat(null, 1);
    expect(beat.body).toEqual({ job: null, cancel: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("refuses a wait over 50 s", async () => {
    const agent = await scriptedAgent("host-02");
    expect((await agent.heartbeat(null, 51)).status).toBe(400);
  });
});

describe("status reports and leases", () => {
  it("runs a job to success: running, then succeeded, visible in D1", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    const jobs = await push();
    const job = await takeJob(agent);
    expect(job.id).toBe(jobs["host-01"]);
    expect(job.deploy.env).toMatchObject({ API_TOKEN: "tok-very-secret-123" });
    expect((await agent.status(job.id, { status: "running", attempt: 1 })).status).toBe(200);
    const done = await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: 1 });
    expect(done).toMatchObject({ status: 200, body: { id: job.id, status: "succeeded", exit_code: 0, finished_at: expect.any(String) } });
    // The answer was lost and the agent says it again: same answer, nothing changes.
    expect(await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: 1 })).toMatchObject({ status: 200, body: { status: "succeeded" } });
    await settleHistory("host-01");
    expect((await callJson(`/v1/jobs/${job.id}`)).body).toMatchObject({ status: "succeeded", exit_code: 0 });
  });

  it("records a failure with its exit code and error", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    const res = await agent.status(job.id, { status: "failed", exit_code: 3, error: "health check: /up answered 503" });
    expect(res.body).toMatchObject({ status: "failed", exit_code: 3, error: "health check: /up answered 503" });
  });

  it("redacts the deploy's secret env values from a job's error, as from its log", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    const error = "docker run: invalid env API_TOKEN=tok-very-secret-123 DB_PASSWORD=hunter2hunter2";
    const res = await agent.status(job.id, { status: "failed", exit_code: 125, error });
    expect(res.body.error).toBe("docker run: invalid env API_TOKEN=*** DB_PASSWORD=***");
    await settleHistory("host-01");
    const stored = (await callJson(`/v1/jobs/${job.id}`)).body;
    expect(stored.error).toBe("docker run: invalid env API_TOKEN=*** DB_PASSWORD=***");
    expect(JSON.stringify(stored)).not.toContain("hunter2hunter2");
  });

  it("renews the lease on heartbeats, then requeues on expiry while retries allow, then fails with lease_expired", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    const stub = hostStub("host-01");
    await withFakeClock("host-01", async (clock) => {
      // Heartbeats renew: after 0.6 s + 0.6 s the 1 s lease has not run out.
      await clock.advance(600);
      await agent.heartbeat(job.id);
      await clock.advance(600);
      await runDurableObjectAlarm(stub);
      expect(await stub.getJob(job.id)).toMatchObject({ status: "running", attempt: 1 });

      // Silence: the lease runs out, the job is queued again as attempt 2.
      await clock.advance(1100);
      await runDurableObjectAlarm(stub);
      expect(await stub.getJob(job.id)).toMatchObject({ status: "queued", attempt: 2, agent_id: null });
      // DeployBot's own log line about it is stamped by the object's clock, not the wall's.
      const note = (await stub.jobLogs(job.id)).filter((l) => l.stream === "system").at(-1);
      expect(note?.ts).toBe(new Date(clock.now()).toISOString());

      // The old attempt's reports are refused: the job never counts twice.
      const stale = await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: 1 });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe("stale_report");
      expect((await agent.logs(job.id, [{ seq: 1, text: "late" }], 1)).status).toBe(409);

      // Attempt 2 goes to a new agent and also goes silent: no retries left.
      const second = await scriptedAgent("host-01");
      const again = await takeJob(second);
      expect(again).toMatchObject({ id: job.id, attempt: 2 });
      await clock.advance(1100);
      await runDurableObjectAlarm(stub);
      expect(await stub.getJob(job.id)).toMatchObject({ status: "failed", error: "lease_expired", attempt: 2 });
    });
  });

  it("fails an agent's confirmed job at once when it heartbeats without it (restart)", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    await agent.status(job.id, { status: "running" });
    await agent.heartbeat(null);
    expect(await hostStub("host-01").getJob(job.id)).toMatchObject({ status: "failed", error: "agent_restarted" });
  });

  it("fails the old identity's job at once when the agent registers again after losing its state", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    await agent.status(job.id, { status: "running" });
    const reg = await callJson("/v1/agents/register", {
      method: "POST",
      token: ENROLL,
      body: JSON.stringify({ hostname: "host-01", version: "test", previous_agent_id: agent.id }),
    });
    expect(reg.status).toBe(201);
    expect(await hostStub("host-01").getJob(job.id)).toMatchObject({ status: "failed", error: "agent_restarted" });
    const wrongHost = await callJson("/v1/agents/register", {
      method: "POST",
      token: ENROLL,
      body: JSON.stringify({ hostname: "host-02", version: "test", previous_agent_id: reg.body.agent_id }),
    });
    expect(wrongHost.status).toBe(422);
  });

  it("queues again a job whose hand-out never reached the agent", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const lost = await takeJob(agent); // pretend this answer was lost on the way
    const next = await agent.heartbeat(null);
    expect(next.body.job).toMatchObject({ id: lost.id, attempt: 2 });
  });
});

describe("cancel", () => {
  it("cancels a queued job at once", async () => {
    await drain("host-02");
    const jobs = await push();
    await settleHistory("host-02");
    const res = await callJson(`/v1/jobs/${jobs["host-02"]}/cancel`, { method: "POST" });
    expect(res).toMatchObject({ status: 200, body: { status: "cancelled" } });
  });

  it("tells a running job's agent on its next heartbeat, at once if it is long-polling, and ends the job cancelled when it confirms", async () => {
    await drain("host-02");
    const agent = await scriptedAgent("host-02");
    await push();
    const job = await takeJob(agent);
    await agent.status(job.id, { status: "running" });
    await settleHistory("host-02");
    const waiting = agent.heartbeat(job.id, 20);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect((await callJson(`/v1/jobs/${job.id}/cancel`, { method: "POST" })).status).toBe(202);
    const beat = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(beat.body).toEqual({ job: null, cancel: [job.id] });
    const confirmed = await agent.status(job.id, { status: "failed", error: "stopped on request; previous container restored" });
    expect(confirmed.body).toMatchObject({ status: "cancelled", error: "stopped on request; previous container restored" });
  });

  it("ends a cancelled job whose agent never confirms when its lease runs out", async () => {
    await drain("host-02");
    const agent = await scriptedAgent("host-02");
    await push();
    const job = await takeJob(agent);
    await settleHistory("host-02");
    await callJson(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    await withFakeClock("host-02", async (clock) => {
      await clock.advance(1100);
      await runDurableObjectAlarm(hostStub("host-02"));
    });
    expect(await hostStub("host-02").getJob(job.id)).toMatchObject({ status: "cancelled" });
  });
});

describe("per-agent authorisation", () => {
  it("answers 403 for another agent's heartbeat, job status and logs, and for another host's job", async () => {
    await drain("host-01");
    const a = await scriptedAgent("host-01");
    const b = await scriptedAgent("host-01");
    const c = await scriptedAgent("host-02");
    const jobs = await push();
    const job = await takeJob(a);
    expect(job.id).toBe(jobs["host-01"]);

    const asB = (path: string, body: unknown) => callJson(path, { method: "POST", token: b.token, body: JSON.stringify(body) });
    expect((await asB(`/v1/agents/${a.id}/heartbeat`, {})).status).toBe(403);
    expect((await b.status(job.id, { status: "succeeded" })).status).toBe(403);
    expect((await b.logs(job.id, [{ seq: 1, text: "x" }])).status).toBe(403);
    await settleHistory("host-01");
    expect((await c.status(job.id, { status: "succeeded" })).status).toBe(403);
    expect((await c.logs(job.id, [{ seq: 1, text: "x" }])).status).toBe(403);
    expect((await c.status("no-such-job", { status: "succeeded" })).status).toBe(404);
    // An admin token is no agent token.
    const admin = await callJson(`/v1/jobs/${job.id}/status`, { method: "POST", body: JSON.stringify({ status: "succeeded" }) });
    expect(admin.status).toBe(401);
    expect(await hostStub("host-01").getJob(job.id)).toMatchObject({ status: "running", agent_id: a.id });
  });
});

describe("logs", () => {
  it("keeps seq order, ignores repeats, holds lines behind a gap, redacts secrets and cuts long lines", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    expect((await agent.logs(job.id, [{ seq: 1, text: "one" }, { seq: 3, text: "three" }])).status).toBe(204);
    expect((await agent.logs(job.id, [{ seq: 1, text: "one again" }, { seq: 2, text: "token tok-very-secret-123 and hunter2hunter2" }])).status).toBe(204);
    await agent.logs(job.id, [{ seq: 4, text: "x".repeat(20_000) }, { seq: 6, text: "after a gap" }]);
    const stub = hostStub("host-01");
    const lines = (await stub.jobLogs(job.id)).filter((l) => l.stream !== "system");
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(lines.map((l) => l.text.slice(0, 40))).toEqual(["one", "token *** and ***", "three", "x".repeat(40)]);
    expect(lines[3]!.text.endsWith(LINE_CUT_MARKER)).toBe(true);
    expect(new TextEncoder().encode(lines[3]!.text).length).toBe(16 * 1024 + new TextEncoder().encode(LINE_CUT_MARKER).length);

    // The job ends: the line behind the gap is released after a marker for the missing one.
    await agent.status(job.id, { status: "succeeded", exit_code: 0 });
    const all = await stub.jobLogs(job.id);
    const tail = all.slice(-2).map((l) => l.text);
    expect(tail).toEqual(["[deploybot] 1 line(s) never arrived (seq 5-5)", "after a gap"]);
    await settleHistory("host-01");
    const stored = await env.DB.prepare("SELECT text FROM job_logs WHERE job_id = ? ORDER BY pos").bind(job.id).all<{ text: string }>();
    expect(stored.results.map((r) => r.text)).toEqual(all.map((l) => l.text));
    expect(JSON.stringify(stored.results)).not.toContain("tok-very-secret-123");
  });

  it("refuses malformed batches", async () => {
    await drain("host-01");
    const agent = await scriptedAgent("host-01");
    await push();
    const job = await takeJob(agent);
    expect((await agent.logs(job.id, [{ seq: 0, text: "zero" }])).status).toBe(400);
    expect((await agent.logs(job.id, [])).status).toBe(400);
  });
});

describe("SSE", () => {
  it("replays history, streams live lines and the end, and resumes after Last-Event-ID with no gap or duplicate", async () => {
    await drain("host-02");
    const agent = await scriptedAgent("host-02");
    await push();
    const job = await takeJob(agent);
    await agent.logs(job.id, [1, 2, 3].map((seq) => ({ seq, text: `line ${seq}` })));
    await settleHistory("host-02");

    const first = await openSse(`/v1/logs/stream?job_id=${job.id}`);
    expect(first.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const status = await first.next();
    expect(status).toMatchObject({ event: "status", data: { id: job.id, status: "running" } });
    const history = await first.until((e) => e.event === "log" && e.data.seq === 3);
    expect(history.filter((e) => e.data.stream !== "system").map((e) => e.data.text)).toEqual(["line 1", "line 2", "line 3"]);

    // Live: lines sent now arrive on the open stream.
    await agent.logs(job.id, [4, 5].map((seq) => ({ seq, text: `line ${seq}` })));
    const live = await first.until((e) => e.event === "log" && e.data.seq === 5);
    expect(live.map((e) => e.data.text)).toEqual(["line 4", "line 5"]);
    const lastId = live.at(-1)!.id!;
    await first.close();

    // Lines written while nobody listened, then a resume from the last id seen.
    await agent.logs(job.id, [6, 7].map((seq) => ({ seq, text: `line ${seq}` })));
    const resumed = await openSse(`/v1/logs/stream?job_id=${job.id}`, { headers: { "last-event-id": lastId } });
    expect((await resumed.next())!.event).toBe("status");
    const missed = await resumed.until((e) => e.event === "log" && e.data.seq === 7);
    expect(missed.map((e) => e.data.text)).toEqual(["line 6", "line 7"]);
    await agent.status(job.id, { status: "succeeded", exit_code: 0 });
    const ending = await resumed.until((e) => e.event === "end");
    expect(ending.map((e) => e.event)).toEqual(["status", "end"]);
    expect(ending.at(-1)!.data).toEqual({ job_id: job.id, status: "succeeded" });
    expect(await resumed.next()).toBeNull(); // the stream closes after end
  });

  it("serves many subscribers at once, a host stream, and browsers with access_token", async () => {
    await drain("host-02");
    const agent = await scriptedAgent("host-02");
    await push();
    const job = await takeJob(agent);
    await settleHistory("host-02");
    const subscribers = await Promise.all(Array.from({ length: 5 }, () => openSse(`/v1/logs/stream?job_id=${job.id}`)));
    const browser = await openSse(`/v1/logs/stream?job_id=${job.id}&access_token=test-admin-token`, { token: null });
    const hostStream = await openSse(`/v1/logs/stream?host=host-02`);
    await agent.logs(job.id, [{ seq: 1, text: "hello all" }]);
    for (const s of [...subscribers, browser, hostStream]) {
      const got = await s.until((e) => e.event === "log" && e.data.text === "hello all");
      expect(got.at(-1)!.data.job_id).toBe(job.id);
      await s.close();
    }
  });

  it("refuses without a token, with a wrong access_token, and without job_id or host", async () => {
    expect((await callJson("/v1/logs/stream?job_id=x", { token: null })).status).toBe(401);
    expect((await callJson("/v1/logs/stream?job_id=x&access_token=nope", { token: null })).status).toBe(401);
    expect((await callJson("/v1/logs/stream")).status).toBe(400);
    expect((await callJson("/v1/logs/stream?job_id=nope")).status).toBe(404);
    expect((await callJson("/v1/logs/stream?host=nope")).status).toBe(404);
  });
});

describe("GET /metrics", () => {
  it("exposes jobs, deliveries, heartbeats, agents online and the dispatch histogram in Prometheus text", async () => {
    const agent = await scriptedAgent("host-01");
    await agent.heartbeat(null);
    await settleHistory("host-01");
    const res = await callJson("/metrics").catch(() => null);
    expect(res).toBeNull(); // not JSON
    const { call } = await import("./helpers");
    const text = await (await call("/metrics")).text();
    expect(text).toMatch(/^# HELP deploybot_jobs /m);
    expect(text).toMatch(/^deploybot_jobs\{host="host-01",status="(succeeded|failed|cancelled|running|queued)"\} \d+$/m);
    expect(text).toMatch(/^deploybot_webhook_deliveries_total\{outcome="queued"\} \d+$/m);
    expect(text).toMatch(/^deploybot_heartbeats_total\{host="host-01"\} [1-9]\d*$/m);
    expect(text).toMatch(/^deploybot_agents_online\{host="host-01"\} [1-9]\d*$/m);
    expect(text).toMatch(/^deploybot_dispatch_wait_seconds_bucket\{host="host-01",le="0.05"\} \d+$/m);
    expect(text).toMatch(/^deploybot_dispatch_wait_seconds_count\{host="host-01"\} [1-9]\d*$/m);
    expect((await call("/metrics", { token: null })).status).toBe(401);
  });
});

describe("LOG_LIMIT_MARKER", () => {
  it("is a visible line", () => {
    expect(LOG_LIMIT_MARKER).toMatch(/log limit reached/);
  });
});

describe("abandoned long polls", () => {
  it("a poll the agent gave up on does not act when it wakes: the agent's newer heartbeat rules", async () => {
    await drain("host-01");
    const stub = hostStub("host-01");
    const agent = await scriptedAgent("host-01");
    // An idle poll the agent abandons (its HTTP request timed out on the agent's side).
    const abandoned = stub.heartbeat(agent.id, { runningJobId: null, waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    // The agent polls again, gets the job, confirms it and heartbeats naming it.
    const second = stub.heartbeat(agent.id, { runningJobId: null, waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await push();
    const got = await second;
    expect(got.job).not.toBeNull();
    await agent.status(got.job!.id, { status: "running" });
    await stub.heartbeat(agent.id, { runningJobId: got.job!.id });
    // The abandoned poll wakes (any wake-up, here a cancel elsewhere) and must neither take a job nor fail the running one.
    expect(await abandoned).toEqual({ job: null, cancel: [] });
    expect(await stub.getJob(got.job!.id)).toMatchObject({ status: "running" });
  });
});

describe("the object's clock", () => {
  it("ends a long poll when the object's clock passes its wait, with no real wait", async () => {
    await drain("host-02");
    const agent = await scriptedAgent("host-02");
    const stub = hostStub("host-02");
    await withFakeClock("host-02", async (clock) => {
      const poll = stub.heartbeat(agent.id, { runningJobId: null, waitMs: 30_000 });
      await stub.state(); // calls to one object arrive in order: the poll is held once this answers
      await clock.advance(30_000);
      expect(await poll).toEqual({ job: null, cancel: [] });
    });
  });
});
