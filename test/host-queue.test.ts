import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EnqueueRequest } from "../src/host/contract";
import type { HostQueue } from "../src/host/host-queue";
import type { AppState } from "../src/app/app-state";
import { d1AppHistoryWriter, type AppRecord } from "../src/app/history";
import { HOST_STEPS, migrate } from "../src/host/migrations";
import type { Sink } from "../src/host/outbox";
import type { JobSnapshot } from "../src/schemas/jobs";
import { appStub, recordingSql, settleHistory, sha } from "./helpers";

let hostCounter = 0;
/** A fresh host (a fresh Durable Object) per test. */
function freshHost() {
  const host = `dohost-${++hostCounter}-${crypto.randomUUID().slice(0, 8)}`;
  return { host, stub: env.HOST_QUEUE.get(env.HOST_QUEUE.idFromName(host)) };
}

function request(host: string, overrides: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    app: "web",
    repo: "acme/web",
    ref: "refs/heads/main",
    sha: sha(1),
    host,
    mode: "agent",
    trigger: "api",
    delivery_id: null,
    deploy: JSON.stringify({ image: "registry.test/web:1", container: "web", ports: [], env: {} }),
    lease_s: 60,
    retries: 1,
    ...overrides,
  };
}

describe("HostQueue", () => {
  it("keeps queued jobs in the order they came", async () => {
    const { host, stub } = freshHost();
    const a = await stub.enqueue(request(host, { app: "a" }));
    const b = await stub.enqueue(request(host, { app: "b" }));
    const c = await stub.enqueue(request(host, { app: "c" }));
    expect([a.created, b.created, c.created]).toEqual([true, true, true]);
    expect((await stub.queued()).map((j) => j.app)).toEqual(["a", "b", "c"]);
  });

  it("returns the existing job for the same app, ref and sha while it is queued or running", async () => {
    const { host, stub } = freshHost();
    const first = await stub.enqueue(request(host));
    const again = await stub.enqueue(request(host));
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
    await stub.heartbeat("agent-1");
    const whileRunning = await stub.enqueue(request(host));
    expect(whileRunning).toMatchObject({ created: false, job: { id: first.job.id, status: "running" } });
    const otherSha = await stub.enqueue(request(host, { sha: sha(2) }));
    expect(otherSha.created).toBe(true);
  });

  it("returns the job a delivery already made, even after it finished", async () => {
    const { host, stub } = freshHost();
    const first = await stub.enqueue(request(host, { delivery_id: "d-1" }));
    await stub.cancel(first.job.id);
    const again = await stub.enqueue(request(host, { delivery_id: "d-1" }));
    expect(again).toMatchObject({ created: false, job: { id: first.job.id, status: "cancelled" } });
  });

  it("cancels an older queued job of the same app when a newer push arrives, naming the newer job", async () => {
    const { host, stub } = freshHost();
    const older = await stub.enqueue(request(host, { sha: sha(1) }));
    const other = await stub.enqueue(request(host, { app: "api", sha: sha(1) }));
    const newer = await stub.enqueue(request(host, { sha: sha(2) }));
    expect(newer.superseded.map((job) => [job.id, job.status])).toEqual([[older.job.id, "cancelled"]]);
    expect(await stub.getJob(older.job.id)).toMatchObject({
      status: "cancelled",
      error: `superseded by job ${newer.job.id}`,
      finished_at: expect.any(String),
    });
    expect((await stub.queued()).map((j) => j.id)).toEqual([other.job.id, newer.job.id]);
  });

  it("answers its app's enqueue with the snapshots it made, sends them no second time, and answers a repeat with them again", async () => {
    const { host, stub } = freshHost();
    const older = await stub.enqueue(request(host, { sha: sha(1) }));
    await settleHistory(host);
    const pending = () => runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending());
    expect(await pending()).toBe(0);
    const byApp = request(host, { sha: sha(2), delivery_id: "rollout:r-1", rollout_id: "r-1" });
    const newer = await stub.enqueue(byApp, true);
    expect(newer.snapshot).toMatchObject({ id: newer.job.id, status: "queued", version: 1, delivery_id: "rollout:r-1" });
    expect(newer.superseded.map((job) => [job.id, job.status, job.version])).toEqual([[older.job.id, "cancelled", 2]]);
    // The app has both from the answer: nothing waits in the outbox for it.
    expect(await pending()).toBe(0);
    // The answer was lost (the app asks again): the repeat carries the same snapshots.
    const again = await stub.enqueue(byApp, true);
    expect(again.created).toBe(false);
    expect(again.snapshot).toEqual(newer.snapshot);
    expect(again.superseded).toEqual(newer.superseded);
    // Anyone else's enqueue is delivered as before.
    await stub.enqueue(request(host, { app: "api" }));
    expect(await pending()).toBe(1);
  });

  it("drops a waiting snapshot of a job its app's enqueue replaced: the answer carries a newer one", async () => {
    const { host, stub } = freshHost();
    const pending = () => runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending());
    // Held back from the app for now: its only sink fails.
    await runInDurableObject(stub, (instance: HostQueue) => {
      instance.outbox.sinks = [{ name: "app", write: async () => Promise.reject(new Error("app away")) }];
    });
    const older = await stub.enqueue(request(host, { sha: sha(1) }));
    expect(await pending()).toBe(1);
    const newer = await stub.enqueue(request(host, { sha: sha(2), delivery_id: "rollout:r-2", rollout_id: "r-2" }), true);
    expect(newer.superseded.map((job) => [job.id, job.status])).toEqual([[older.job.id, "cancelled"]]);
    expect(await pending()).toBe(0);
  });

  it("queues a job for an app at rest on its host in one statement", async () => {
    const { host, stub } = freshHost();
    const running = await stub.enqueue(request(host, { sha: sha(1), delivery_id: "d-1" }));
    await stub.heartbeat("agent-1");
    await stub.enqueue(request(host, { app: "api", delivery_id: "d-2" }));
    // The app's job runs and another app's is queued: neither stops a new release of the app going in alone.
    const statements = await runInDurableObject(stub, async (instance: HostQueue, state) => {
      const recording = recordingSql(state.storage.sql);
      try {
        const result = await instance.enqueue(request(host, { sha: sha(2), delivery_id: "d-3" }), true);
        expect(result).toMatchObject({ created: true, superseded: [], job: { status: "queued", sha: sha(2) } });
      } finally {
        recording.stop();
      }
      return recording.ran.map(({ query }) => query).filter((query) => /\bjobs\b/.test(query));
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^INSERT INTO jobs/);
    expect(await stub.getJob(running.job.id)).toMatchObject({ status: "running" });
  });

  it("upgrades an object made before jobs lost AUTOINCREMENT: every job stays, in its place, and new ones come after", async () => {
    const { host, stub } = freshHost();
    const before = await runInDurableObject(stub, (_instance: HostQueue, state) => {
      const sql = state.storage.sql;
      // The object as the code before the last step left it, with three jobs in it.
      const tables = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray();
      for (const { name } of tables) sql.exec(`DROP TABLE ${name}`);
      migrate(state.storage, HOST_STEPS.slice(0, -1));
      expect(sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'jobs'").one().sql).toContain("AUTOINCREMENT");
      const insert = `INSERT INTO jobs (id, app, repo, ref, sha, host, mode, status, agent_id, trigger, delivery_id, created_at, deploy, lease_s, retries, queued_at, rollout_id)
        VALUES (?, ?, 'acme/web', 'refs/heads/main', ?, ?, 'agent', ?, ?, 'push', ?, '2026-12-01T00:00:00.000Z', '{}', 60, 1, 1, ?)`;
      sql.exec(insert, `${host}.old-1`, "a", sha(1), host, "succeeded", "agent-1", "d-1", null);
      sql.exec(insert, `${host}.old-2`, "b", sha(2), host, "queued", null, null, "r-1");
      sql.exec(insert, `${host}.old-3`, "c", sha(3), host, "queued", null, "d-3", null);
      sql.exec("DELETE FROM jobs WHERE id = ?", `${host}.old-1`);
      return sql.exec("SELECT * FROM jobs ORDER BY pos").toArray();
    });
    await evictDurableObject(stub);

    // The next start applies the last step.
    const fresh = await stub.enqueue(request(host, { app: "d" }));

    const after = await runInDurableObject(stub, (_instance: HostQueue, state) => {
      const sql = state.storage.sql;
      const schema = sql.exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY name").toArray();
      return {
        version: sql.exec<{ version: number }>("SELECT version FROM _schema").one().version,
        rows: sql.exec("SELECT * FROM jobs ORDER BY pos").toArray(),
        schema: Object.fromEntries(schema.map(({ name, sql }) => [name, sql])),
        sequence: sql.exec("SELECT name FROM sqlite_sequence WHERE name = 'jobs'").toArray(),
      };
    });
    expect(after.version).toBe(HOST_STEPS.length);
    expect(after.rows.slice(0, 2)).toEqual(before);
    expect(after.rows[2]).toMatchObject({ id: fresh.job.id, pos: 4 });
    expect((await stub.queued()).map((j) => j.app)).toEqual(["b", "c", "d"]);
    expect(after.schema.jobs).not.toContain("AUTOINCREMENT");
    expect(after.sequence).toEqual([]);
    expect(Object.keys(after.schema)).toEqual(["jobs", "jobs_agent", "jobs_app_status", "jobs_delivery", "jobs_status_pos"]);
    expect(after.schema.jobs_agent).toMatch(/WHERE agent_id IS NOT NULL$/);
    expect(after.schema.jobs_delivery).toMatch(/WHERE delivery_id IS NOT NULL$/);
  });

  it("finds jobs by agent and by delivery through the partial indexes, and counts no job in sqlite_sequence", async () => {
    const { host, stub } = freshHost();
    const seen = await runInDurableObject(stub, async (instance: HostQueue, state) => {
      const sql = state.storage.sql;
      const plan = (query: string, ...bindings: string[]) => sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...bindings).toArray().map((row) => row.detail).join("; ");
      await instance.enqueue(request(host, { delivery_id: "d-1" }), true);
      return {
        byAgent: plan("SELECT * FROM jobs WHERE status = 'running' AND agent_id = ?", "agent-1"),
        byDelivery: plan("SELECT * FROM jobs WHERE delivery_id = ? AND app = ?", "d-1", "web"),
        sequence: sql.exec("SELECT * FROM sqlite_sequence WHERE name = 'jobs'").toArray(),
      };
    });
    expect(seen.byAgent).toContain("USING INDEX jobs_agent");
    expect(seen.byDelivery).toContain("USING INDEX jobs_delivery");
    expect(seen.sequence).toEqual([]);
  });

  it("does not supersede a running job", async () => {
    const { host, stub } = freshHost();
    const running = await stub.enqueue(request(host, { sha: sha(1) }));
    await stub.heartbeat("agent-1");
    const newer = await stub.enqueue(request(host, { sha: sha(2) }));
    expect(newer.superseded).toEqual([]);
    expect(await stub.getJob(running.job.id)).toMatchObject({ status: "running" });
  });

  it("runs at most one job per host at a time", async () => {
    const { host, stub } = freshHost();
    await stub.enqueue(request(host, { app: "a" }));
    await stub.enqueue(request(host, { app: "b" }));
    const first = await stub.heartbeat("agent-1");
    expect(first.job).toMatchObject({ app: "a", status: "running", agent_id: "agent-1", lease_s: 60 });
    expect(first.job!.deploy).toEqual({ image: "registry.test/web:1", container: "web", ports: [], env: {} });
    expect((await stub.heartbeat("agent-1", { runningJobId: first.job!.id })).job).toBeNull();
    expect((await stub.heartbeat("agent-2")).job).toBeNull();
    expect(await stub.state()).toMatchObject({ queued: 1, running_job_id: first.job!.id });
  });

  it("gives a job to exactly one of two agents racing for it", async () => {
    const { host, stub } = freshHost();
    const queued = await stub.enqueue(request(host));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => stub.heartbeat(`agent-${i}`)));
    const winners = results.filter((r) => r.job !== null);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.job!.id).toBe(queued.job.id);
  });

  it("cancels a queued job at once and flags a running one for its agent", async () => {
    const { host, stub } = freshHost();
    const running = await stub.enqueue(request(host, { app: "a" }));
    const queued = await stub.enqueue(request(host, { app: "b" }));
    await stub.heartbeat("agent-1");
    expect(await stub.cancel(queued.job.id)).toMatchObject({ outcome: "cancelled", job: { status: "cancelled" } });
    expect(await stub.cancel(queued.job.id)).toMatchObject({ outcome: "already_finished" });
    expect(await stub.cancel(running.job.id)).toMatchObject({ outcome: "cancel_requested", job: { status: "running" } });
    expect(await stub.heartbeat("agent-1", { runningJobId: running.job.id })).toEqual({ job: null, cancel: [running.job.id] });
    expect((await stub.heartbeat("agent-2")).cancel).toEqual([]);
    expect(await stub.cancel("no-such-job")).toEqual({ outcome: "not_found" });
  });

  it("reports host state: queue length, running job and the last agent heard", async () => {
    const { host, stub } = freshHost();
    expect(await stub.state()).toEqual({ queued: 0, running_job_id: null, agent_id: null, last_heartbeat_at: null, online: false });
    await stub.enqueue(request(host));
    await stub.heartbeat("agent-9");
    const state = await stub.state();
    expect(state).toMatchObject({ queued: 0, agent_id: "agent-9", online: true });
    expect(state.running_job_id).not.toBeNull();
  });

  it("loses nothing when the object is evicted", async () => {
    const { host, stub } = freshHost();
    const a = await stub.enqueue(request(host, { app: "a" }));
    const b = await stub.enqueue(request(host, { app: "b" }));
    await stub.heartbeat("agent-1");
    await evictDurableObject(stub);
    expect(await stub.getJob(a.job.id)).toMatchObject({ status: "running", agent_id: "agent-1" });
    expect((await stub.queued()).map((j) => j.id)).toEqual([b.job.id]);
    expect(await stub.enqueue(request(host, { app: "b" }))).toMatchObject({ created: false, job: { id: b.job.id } });
  });
});

describe("HostQueue logs", () => {
  const line = (seq: number) => ({ seq, ts: "2026-11-27T00:00:00.000Z", stream: "stdout" as const, text: `l${seq}` });

  it("releases lines in seq order whatever order and repeats they arrive in", async () => {
    const { host, stub } = freshHost();
    const { job } = await stub.enqueue(request(host));
    await stub.heartbeat("agent-1");
    for (const batch of [[2], [1, 2], [4, 3], [3], [6], [5, 6, 7]]) {
      expect((await stub.appendLogs("agent-1", job.id, batch.map(line))).outcome).toBe("ok");
    }
    const texts = (await stub.jobLogs(job.id)).filter((l) => l.stream === "stdout").map((l) => l.text);
    expect(texts).toEqual(["l1", "l2", "l3", "l4", "l5", "l6", "l7"]);
  });

  it("numbers a new attempt's lines from 1 again", async () => {
    const { host, stub } = freshHost();
    const { job } = await stub.enqueue(request(host));
    await stub.heartbeat("agent-1");
    await stub.appendLogs("agent-1", job.id, [line(1), line(2)]);
    // Never confirmed, and the agent says it runs nothing: queued again, and handed back as attempt 2.
    expect((await stub.heartbeat("agent-1")).job).toMatchObject({ id: job.id, attempt: 2 });
    expect((await stub.appendLogs("agent-1", job.id, [line(3)], 1)).outcome).toBe("stale");
    await stub.appendLogs("agent-1", job.id, [line(1)]);
    const lines = (await stub.jobLogs(job.id)).filter((l) => l.stream === "stdout");
    expect(lines.map((l) => [l.attempt, l.seq])).toEqual([[1, 1], [1, 2], [2, 1]]);
  });
});

describe("HostQueue outbox", () => {
  const d1Row = (id: string) => env.DB.prepare("SELECT status, version FROM jobs WHERE id = ?").bind(id).first<{ status: string; version: number }>();

  it("delivers every transition to D1, through the app's object", async () => {
    const { host, stub } = freshHost();
    const { job } = await stub.enqueue(request(host));
    await settleHistory(host);
    expect(await d1Row(job.id)).toEqual({ status: "queued", version: 1 });
    await stub.heartbeat("agent-1");
    await settleHistory(host);
    expect(await d1Row(job.id)).toEqual({ status: "running", version: 2 });
    expect(await runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending())).toBe(0);
  });

  /** A fresh host whose agent ran a job to success: its end waits in the host's outbox. */
  async function succeededJob() {
    const { host, stub } = freshHost();
    const { job } = await stub.enqueue(request(host, { app: `web-${crypto.randomUUID().slice(0, 8)}` }));
    await stub.heartbeat("agent-1");
    await stub.report("agent-1", job.id, { status: "succeeded", exit_code: 0 });
    return { host, stub, job };
  }

  it("writes a delivery's confirmation down with its next unit of work, never in a commit of its own", async () => {
    const { host, stub, job } = await succeededJob();
    const outbox = () =>
      runInDurableObject(stub, (instance: HostQueue, state) => ({
        rows: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
        cursors: state.storage.sql.exec("SELECT seq FROM outbox_cursors").toArray().length,
        pending: instance.outbox.pending(),
      }));
    // The app has the job's end; the host wrote nothing for it: the row is still there, and no cursor.
    await runInDurableObject(stub, (instance: HostQueue) => instance.outbox.flush());
    expect(await outbox()).toEqual({ rows: 1, cursors: 0, pending: 0 });
    // The next unit of work (a heartbeat that hands out nothing) writes it down in its own transaction.
    await stub.heartbeat("agent-1");
    expect(await outbox()).toEqual({ rows: 0, cursors: 1, pending: 0 });
  });

  it("delivers again what a confirmation lost with the object covered, and D1 keeps the same row", async () => {
    const { host, stub, job } = await succeededJob();
    await settleHistory(host);
    // Evicted before any unit wrote the confirmation down: the row is delivered again.
    await evictDurableObject(stub);
    expect(await runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending())).toBe(1);
    await settleHistory(host);
    expect(await runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending())).toBe(0);
    expect(await d1Row(job.id)).toEqual({ status: "succeeded", version: 3 });
  });

  it("keeps transitions while D1 fails and delivers them from the alarm afterwards", async () => {
    const { host, stub } = freshHost();
    const app = `web-${crypto.randomUUID().slice(0, 8)}`;
    const failures: number[] = [];
    let writer: Sink<AppRecord>[] = [];
    // Inject a failing D1 writer in the live app object (the same instance serves the calls below).
    await runInDurableObject(appStub(app), (instance: AppState) => {
      writer = instance.outbox.sinks;
      const failing: Sink<AppRecord> = {
        name: "history",
        async write() {
          failures.push(Date.now());
          throw new Error("D1_ERROR: injected outage");
        },
      };
      instance.outbox.sinks = [failing];
    });
    const { job } = await stub.enqueue(request(host, { app }));
    await stub.heartbeat("agent-1");
    await settleHistory(host);
    expect(failures.length).toBeGreaterThan(0);
    expect(await d1Row(job.id)).toBeNull();
    // The host has delivered to the app's object; the app keeps the job's newest snapshot for D1.
    expect(await runInDurableObject(stub, (instance: HostQueue) => instance.outbox.pending())).toBe(0);
    const pending = await runInDurableObject(appStub(app), (instance: AppState, state) => ({
      outbox: instance.outbox.pending(),
      alarm: state.storage.getAlarm(),
    }));
    // Both transitions wait as one row: the outbox keeps only a job's newest snapshot (D1 keeps only that too).
    expect(pending.outbox).toBe(1);
    expect(await pending.alarm).not.toBeNull();

    // D1 is back: the app's alarm delivers the newest transition.
    await runInDurableObject(appStub(app), (instance: AppState) => {
      instance.outbox.sinks = writer;
    });
    expect(await runDurableObjectAlarm(appStub(app))).toBe(true);
    expect(await d1Row(job.id)).toEqual({ status: "running", version: 2 });
    expect(await runInDurableObject(appStub(app), (instance: AppState) => instance.outbox.pending())).toBe(0);
  });

  it("never lets an older snapshot overwrite a newer one in D1", async () => {
    const { host, stub } = freshHost();
    const { job } = await stub.enqueue(request(host));
    await stub.heartbeat("agent-1");
    await settleHistory(host);
    const stale: JobSnapshot = { ...(await stub.getJob(job.id))!, status: "queued", agent_id: null, delivery_id: null, version: 1 };
    await d1AppHistoryWriter(env.DB, () => null).write([{ job: stale }]);
    expect(await d1Row(job.id)).toEqual({ status: "running", version: 2 });
  });
});
