import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { AppState } from "../src/app/app-state";
import type { HostQueue } from "../src/host/host-queue";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { JobSnapshot } from "../src/schemas/jobs";
import { until } from "./e2e/until";
import { appStub, callJson, hostStub, putConfig, recordingSql, sendWebhook, settleApp, settleHistory, sha, withObjectClock } from "./helpers";

// Each test has its own app on its own 10 hosts (<app>-01 … <app>-10), so no queue is shared.
const APPS: Record<string, string> = {
  canary: "rollout: { canary: [canary-01] }",
  batch: "rollout: { batch: 2 }",
  back: "rollout: { batch: 2, on_failure: rollback }",
  pausing: "rollout: { batch: 5, pause: 30s }",
  lockme: "",
  newer: "rollout: { batch: 5 }",
  queued: "rollout: { batch: 5 }\n    supersede: false",
  offline: "rollout: { canary: [offline-01], wave_timeout: 10m }",
  burst: "",
  forget: "",
  again: "",
  plans: "",
  quiet: "rollout: { batch: 2 }",
};
const hostsOf = (app: string) => Array.from({ length: 10 }, (_, i) => `${app}-${String(i + 1).padStart(2, "0")}`);

const config = [
  "version: 1",
  "hosts:",
  ...Object.keys(APPS).flatMap((app) => hostsOf(app).map((host) => `  ${host}: { mode: agent }`)),
  "apps:",
  ...Object.entries(APPS).flatMap(([app, extra]) => [
    `  ${app}:`,
    `    repo: acme/${app}`,
    "    branches: [main]",
    `    hosts: [${hostsOf(app).join(", ")}]`,
    ...(extra ? [`    ${extra}`] : []),
    '    deploy: { image: "registry.test/app:{sha}", container: app }',
  ]),
].join("\n");

beforeAll(async () => {
  const res = await putConfig(config);
  expect(res.status, await res.clone().text()).toBe(200);
});

let pushes = 0;
/** A signed push of `app`: the webhook's answer (its jobs are the first wave's). */
async function push(app: string, n = ++pushes) {
  const res = await sendWebhook("push", { ref: "refs/heads/main", after: sha(5000 + n), repository: { full_name: `acme/${app}` } });
  expect(res.status).toBe(202);
  return (await res.json()) as { jobs: Array<{ id: string; host: string }>; rollouts: Array<{ id: string }> };
}

/** The host's agent takes its job and ends it; the host's outbox then tells the app's object. */
async function run(host: string, status: "succeeded" | "failed" = "succeeded", error?: string) {
  const stub = hostStub(host);
  const beat = await stub.heartbeat(`agent-${host}`);
  expect(beat.job, `a job for ${host}`).not.toBeNull();
  await stub.report(`agent-${host}`, beat.job!.id, { status, exit_code: status === "succeeded" ? 0 : 1, error });
  await settleHistory(host);
  return beat.job!;
}

const rollout = async (id: string) => (await callJson(`/v1/rollouts/${id}`)).body;
const queuedOn = async (host: string) => (await hostStub(host).queued()).map((j) => j.id);

type Recording = AppState & { recording?: ReturnType<typeof recordingSql> };

/** Records every statement the app's object runs from now on, until recorded() stops and returns them. */
async function recordStatements(app: string): Promise<void> {
  await runInDurableObject(appStub(app), (instance: Recording, state) => void (instance.recording = recordingSql(state.storage.sql)));
}
async function recorded(app: string) {
  return runInDurableObject(appStub(app), (instance: Recording) => {
    instance.recording?.stop();
    return instance.recording?.ran ?? [];
  });
}

// Each test drives 10 hosts one call at a time: generous timeouts on a busy machine.
describe("rollouts over a 10-host app", { timeout: 30_000 }, () => {
  it("a failing canary leaves the other 9 hosts untouched", async () => {
    const answer = await push("canary");
    expect(answer.jobs.map((j) => j.host)).toEqual(["canary-01"]);
    const id = answer.rollouts[0]!.id;
    await run("canary-01", "failed", "health check: /up answered 503");
    const r = await rollout(id);
    expect(r).toMatchObject({ status: "failed", waves: [{ hosts: ["canary-01"], status: "failed" }, { status: "cancelled" }] });
    expect(r.error).toContain(`job ${answer.jobs[0]!.id} failed on canary-01: health check: /up answered 503`);
    for (const host of hostsOf("canary").slice(1)) expect(await queuedOn(host)).toEqual([]);
  });

  it("batch: 2 with host 5 failing finishes host 6, cancels hosts 7-10 and names the failed job", async () => {
    const answer = await push("batch");
    const id = answer.rollouts[0]!.id;
    const hosts = hostsOf("batch");
    expect(answer.jobs.map((j) => j.host)).toEqual(hosts.slice(0, 2));
    for (const host of hosts.slice(0, 4)) await run(host);
    const failed = await run(hosts[4]!, "failed", "container exited 1");
    let r = await rollout(id);
    expect(r.status).toBe("failed");
    expect(r.error).toBe(`rollout ${id} stopped: job ${failed.id} failed on batch-05: container exited 1`);
    expect(r.waves.map((w: any) => w.status)).toEqual(["succeeded", "succeeded", "failed", "cancelled", "cancelled"]);
    expect(r.waves[3].jobs).toEqual([null, null]);
    // Host 6 was in the failed wave: its job goes on.
    await run(hosts[5]!);
    r = await rollout(id);
    expect(r.waves[2].jobs.every((j: string | null) => j !== null)).toBe(true);
    for (const host of hosts.slice(6)) expect(await queuedOn(host)).toEqual([]);
  });

  it("on_failure: rollback sends the hosts already updated back to their previous release", async () => {
    const hosts = hostsOf("back");
    // v1 everywhere, wave by wave.
    const v1 = await push("back");
    for (const host of hosts) await run(host);
    expect((await rollout(v1.rollouts[0]!.id)).status).toBe("succeeded");
    // v2: the first wave succeeds, host 3 fails.
    const v2 = await push("back");
    await run(hosts[0]!);
    await run(hosts[1]!);
    await run(hosts[2]!, "failed");
    expect((await rollout(v2.rollouts[0]!.id)).status).toBe("failed");
    for (const host of hosts.slice(0, 2)) {
      const back = await run(host);
      expect(back).toMatchObject({ trigger: "rollback", sha: sha(5000 + pushes - 1), rollout_id: v2.rollouts[0]!.id });
    }
    await run(hosts[3]!); // host 4 was in the failed wave: it finishes v2
    for (const host of hosts.slice(4)) expect(await queuedOn(host)).toEqual([]);
    const app = (await callJson("/v1/apps/back")).body;
    expect(app.releases.slice(0, 2).map((r: any) => r.release.sha)).toEqual([sha(5000 + pushes - 1), sha(5000 + pushes - 1)]);
  });

  it("pauses between waves by the strategy, and by hand with pause and resume", async () => {
    const hosts = hostsOf("pausing");
    const answer = await push("pausing");
    const id = answer.rollouts[0]!.id;
    await withObjectClock(appStub("pausing"), async (clock) => {
      expect((await callJson(`/v1/rollouts/${id}/pause`, { method: "POST" })).body.status).toBe("paused");
      for (const host of hosts.slice(0, 5)) await run(host);
      let r = await rollout(id);
      expect(r).toMatchObject({ status: "paused", waves: [{ status: "succeeded" }, { status: "pending" }] });
      // Resumed: the strategy's 30 s pause still comes first.
      expect((await callJson(`/v1/rollouts/${id}/resume`, { method: "POST" })).body.status).toBe("running");
      await clock.advance(29_000);
      await runDurableObjectAlarm(appStub("pausing"));
      expect((await rollout(id)).waves[1].status).toBe("pending");
      await clock.advance(2_000);
      await runDurableObjectAlarm(appStub("pausing"));
      r = await rollout(id);
      expect(r.waves[1]).toMatchObject({ status: "running" });
      for (const host of hosts.slice(5)) await run(host);
      expect((await rollout(id)).status).toBe("succeeded");
    });
    expect((await callJson(`/v1/rollouts/${id}/resume`, { method: "POST" })).status).toBe(409);
  });

  it("a lock holds pushes; unlock starts only the newest and supersedes the older held ones", async () => {
    const locked = await callJson("/v1/apps/lockme/lock", { method: "POST", body: JSON.stringify({ reason: "incident 42", by: "ana" }) });
    expect(locked).toMatchObject({ status: 200, body: { reason: "incident 42", locked_by: "ana" } });
    const first = await push("lockme");
    const second = await push("lockme");
    expect(first.jobs).toEqual([]);
    expect(await rollout(first.rollouts[0]!.id)).toMatchObject({ status: "held", error: "held: lockme is locked by ana: incident 42" });
    expect((await callJson("/v1/apps/lockme")).body).toMatchObject({ lock: { reason: "incident 42", locked_by: "ana" }, held: [first.rollouts[0]!.id, second.rollouts[0]!.id] });
    for (const host of hostsOf("lockme")) expect(await queuedOn(host)).toEqual([]);

    expect((await callJson("/v1/apps/lockme/lock", { method: "DELETE" })).body.was).toMatchObject({ reason: "incident 42" });
    expect(await rollout(first.rollouts[0]!.id)).toMatchObject({ status: "cancelled", error: `superseded by rollout ${second.rollouts[0]!.id}` });
    expect((await rollout(second.rollouts[0]!.id)).status).toBe("running");
    for (const host of hostsOf("lockme")) expect((await run(host)).sha).toBe(sha(5000 + pushes));
    expect((await rollout(second.rollouts[0]!.id)).status).toBe("succeeded");
  });

  it("a newer push supersedes an unfinished rollout: waves not started are cancelled, running jobs finish", async () => {
    const hosts = hostsOf("newer");
    const old = await push("newer");
    const running = await hostStub(hosts[0]!).heartbeat("agent-newer-01");
    expect(running.job?.rollout_id).toBe(old.rollouts[0]!.id);
    const fresh = await push("newer");
    const r = await rollout(old.rollouts[0]!.id);
    expect(r).toMatchObject({ status: "cancelled", error: `superseded by rollout ${fresh.rollouts[0]!.id}`, waves: [{ status: "cancelled" }, { status: "cancelled" }] });
    // The old running job finishes; the new rollout's job on that host waits behind it, then runs.
    await hostStub(hosts[0]!).report("agent-newer-01", running.job!.id, { status: "succeeded", exit_code: 0 });
    for (const host of hosts) expect((await run(host)).rollout_id).toBe(fresh.rollouts[0]!.id);
    expect((await rollout(fresh.rollouts[0]!.id)).status).toBe("succeeded");
  });

  it("with supersede: false, a newer push waits for the unfinished rollout, then runs", async () => {
    const hosts = hostsOf("queued");
    const first = await push("queued");
    const second = await push("queued");
    expect(await rollout(second.rollouts[0]!.id)).toMatchObject({ status: "held", error: `held: queued behind rollout ${first.rollouts[0]!.id}` });
    for (const host of hosts) expect((await run(host)).rollout_id).toBe(first.rollouts[0]!.id);
    expect((await rollout(first.rollouts[0]!.id)).status).toBe("succeeded");
    expect((await rollout(second.rollouts[0]!.id)).status).toBe("running");
    for (const host of hosts) expect((await run(host)).rollout_id).toBe(second.rollouts[0]!.id);
    expect((await rollout(second.rollouts[0]!.id)).status).toBe("succeeded");
  });

  it("a host whose agent is offline holds its wave until wave_timeout, then the rollout halts with that reason", async () => {
    await withObjectClock(appStub("offline"), async (clock) => {
      const answer = await push("offline");
      const id = answer.rollouts[0]!.id;
      await clock.advance(9 * 60_000);
      await runDurableObjectAlarm(appStub("offline"));
      expect((await rollout(id)).status).toBe("running");
      await clock.advance(61_000);
      await runDurableObjectAlarm(appStub("offline"));
      const r = await rollout(id);
      expect(r.status).toBe("halted");
      expect(r.error).toBe(`rollout ${id} halted: wave 1 not done within 600s; waiting on offline-01 (job ${answer.jobs[0]!.id} queued) (is the agent online?)`);
      // The job that never started is cancelled, so it does not run whenever the agent comes back.
      expect(await queuedOn("offline-01")).toEqual([]);
    });
  });

  it("a wave's hosts reporting at once are handled in one unit of work, and each hears back once it is committed", async () => {
    const answer = await push("burst");
    const id = answer.rollouts[0]!.id;
    expect(answer.jobs).toHaveLength(10);
    for (const host of hostsOf("burst")) await settleHistory(host); // the hosts' own deliveries of "queued" are in
    const finished_at = new Date().toISOString();
    const done = answer.jobs.map((job, i) => ({ ...(job as never as JobSnapshot), status: "succeeded" as const, exit_code: 0, finished_at, version: 100 + i }));
    const units = await runInDurableObject(appStub("burst"), async (instance: AppState, state) => {
      const version = () => state.storage.sql.exec<{ version: number }>("SELECT version FROM rollouts WHERE id = ?", id).one().version;
      const before = version();
      // As ten hosts' outboxes would: the first delivery waits a timer turn, and the nine that come
      // meanwhile go in with it. Each rollout change bumps its version once per unit.
      const settled = done.map((job) => instance.jobsChanged([job]).then(() => version()));
      const seen = await Promise.all(settled);
      // Each hears back only once the unit that took it committed.
      expect(seen).toEqual(Array(10).fill(before + 1));
      return version() - before;
    });
    expect(units).toBe(1);
    const r = await rollout(id);
    expect(r.status).toBe("succeeded");
    expect(r.waves[0].states).toEqual(Array(10).fill("succeeded"));
  });

  it("sends a rollout to D1 as it stands when the batch goes (one outbox row however often it changed); a stored whole snapshot goes as it is", async () => {
    const answer = await push("burst");
    const id = answer.rollouts[0]!.id;
    const d1 = () => env.DB.prepare("SELECT status, version, snapshot FROM rollouts WHERE id = ?").bind(id).first<{ status: string; version: number; snapshot: string }>();
    const stored = await runInDurableObject(appStub("burst"), (_instance: AppState, state) =>
      state.storage.sql.exec<{ job_id: string; snapshot: string }>("SELECT job_id, snapshot FROM outbox WHERE job_id = ?", id).toArray(),
    );
    // The change is recorded, not the rollout: it is read when the batch goes.
    expect(stored.map((row) => [row.job_id, JSON.parse(row.snapshot)])).toEqual([[id, { rollout: id }]]);
    await settleApp("burst");
    const now = await runInDurableObject(appStub("burst"), (_instance: AppState, state) => state.storage.sql.exec<{ version: number }>("SELECT version FROM rollouts WHERE id = ?", id).one().version);
    const row = await d1();
    expect(row).toMatchObject({ status: "running", version: now });
    expect(JSON.parse(row!.snapshot)).toMatchObject({ id, status: "running", waves: [{ hosts: expect.any(Array) }] });
    // A row from before this form (the whole snapshot, newer version) is delivered as it was stored.
    const older = { ...(await rollout(id)), status: "running", version: now + 5, error: "stored whole" };
    await runInDurableObject(appStub("burst"), async (instance: AppState, state) => {
      state.storage.sql.exec("INSERT OR REPLACE INTO outbox (job_id, snapshot) VALUES (?, ?)", id, JSON.stringify(older));
      await instance.outbox.flush();
    });
    expect(await d1()).toMatchObject({ version: now + 5 });
    expect(JSON.parse((await d1())!.snapshot)).toMatchObject({ error: "stored whole" });
  });
});

describe("a rollout of a release already queued", { timeout: 30_000 }, () => {
  it("takes over the queued jobs the hosts answer with, and ends when they do", async () => {
    const first = await push("again", 7777);
    const second = await callJson("/v1/rollouts", { method: "POST", body: JSON.stringify({ app: "again", ref: "main", sha: sha(5000 + 7777) }), headers: { "content-type": "application/json" } });
    expect(second.status).toBe(201);
    // The hosts had that release queued: they answer with those jobs rather than queue it twice.
    expect(second.body.jobs.map((job: { id: string }) => job.id).sort()).toEqual(first.jobs.map((job) => job.id).sort());
    expect(second.body.waves[0].jobs.slice().sort()).toEqual(first.jobs.map((job) => job.id).sort());
    expect(second.body.waves[0].states).toEqual(Array(10).fill("queued"));
    for (const host of hostsOf("again")) await run(host);
    expect(await rollout(second.body.id)).toMatchObject({ status: "succeeded", waves: [{ states: Array(10).fill("succeeded") }] });
    expect((await rollout(first.rollouts[0]!.id)).status).toBe("cancelled");
  });
});

describe("the app's history to D1", { timeout: 30_000 }, () => {
  it("goes as one write once a burst of changes is over, and at the latest 1 s after the burst began", async () => {
    const app = appStub("quiet");
    const hosts = hostsOf("quiet");
    // Every write of the app's history sink, as the number of records it carried (then it writes them).
    const writes: number[] = [];
    await runInDurableObject(app, (instance: AppState) => {
      const [d1] = instance.outbox.sinks;
      instance.outbox.sinks = [{ name: d1!.name, write: (records) => (writes.push(records.length), d1!.write(records)) }];
    });
    // A host's job ends, and the host's outbox tells the app's object (which waits for D1 on its own clock).
    const end = async (host: string) => {
      const beat = await hostStub(host).heartbeat(`agent-${host}`);
      await hostStub(host).report(`agent-${host}`, beat.job!.id, { status: "succeeded", exit_code: 0 });
      await runInDurableObject(hostStub(host), (instance: HostQueue) => instance.outbox.flush());
    };
    const settled = () => new Promise((resolve) => setTimeout(resolve, 50));
    await withObjectClock(app, async (clock) => {
      const { rollouts } = await push("quiet"); // t=0: the rollout and its first wave
      await clock.advance(40);
      await end(hosts[0]!); // t=40: the batch waits on, to 50 ms after this change
      await clock.advance(40);
      await settled();
      expect(writes).toEqual([]); // t=80: 80 ms since the first change, 40 since the last
      await clock.advance(10);
      await until("the burst's one write", () => writes.length === 1, 5_000, 10);
      expect(writes[0]).toBeGreaterThanOrEqual(3); // the rollout, its first wave's two jobs (one of them ended)

      // Changes 40 ms apart never leave the app quiet: they go 1 s after the first of them (t=90),
      // although the last (at 960) would let them wait until 1,010.
      const started = clock.now();
      for (let i = 0; i <= 24; i++) {
        const path = `/v1/rollouts/${rollouts[0]!.id}/${i % 2 ? "resume" : "pause"}`;
        expect((await callJson(path, { method: "POST" })).status).toBe(200);
        await clock.advance(i < 24 ? 40 : 30);
      }
      await settled();
      expect(writes).toHaveLength(1); // at 990
      await clock.advance(1_000 - (clock.now() - started));
      await until("the second write, 1 s after the burst began", () => writes.length === 2, 5_000, 10);
    });
  });
});

describe("the app object's storage stays bounded", { timeout: 30_000 }, () => {
  it("forgets finished rollouts past the newest it keeps once D1 has them; the API answers for them from D1", async () => {
    const app = appStub("forget");
    await runInDurableObject(app, (instance: AppState) => void (instance.finishedKept = 2));
    // Four rollouts: each push supersedes the one before (its queued jobs are replaced), the last is cancelled.
    const ids: string[] = [];
    const jobs: string[][] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await push("forget");
      ids.push(answer.rollouts[0]!.id);
      jobs.push(answer.jobs.map((job) => job.id));
    }
    expect((await callJson(`/v1/rollouts/${ids[3]}/cancel`, { method: "POST" })).status).toBe(200);
    for (const host of hostsOf("forget")) await settleHistory(host);
    const stored = () =>
      runInDurableObject(app, (_instance: AppState, state) => {
        const count = (query: string, ...args: string[]) => state.storage.sql.exec<{ n: number }>(query, ...args).one().n;
        return ids.map((id, i) => ({
          rollout: count("SELECT COUNT(*) AS n FROM rollouts WHERE id = ?", id),
          hosts: count("SELECT COUNT(*) AS n FROM rollout_hosts WHERE rollout_id = ?", id),
          waves: count("SELECT COUNT(*) AS n FROM waves WHERE rollout_id = ?", id),
          seen: count(`SELECT COUNT(*) AS n FROM notify_seen WHERE subject IN (${[id, ...jobs[i]!].map(() => "?").join(", ")})`, id, ...jobs[i]!),
        }));
      });
    const kept = { rollout: 1, hosts: 10, waves: 1, seen: 11 };
    expect(await stored()).toEqual([kept, kept, kept, kept]);

    // A rollout whose record has not reached D1 yet stays, however old.
    await runInDurableObject(app, async (instance: AppState, state) => {
      state.storage.transactionSync(() => instance.outbox.add({ rollout: ids[0]! }, Date.now()));
      (instance as unknown as { forgetOldRollouts(): void }).forgetOldRollouts();
    });
    const gone = { rollout: 0, hosts: 0, waves: 0, seen: 0 };
    expect(await stored()).toEqual([kept, gone, kept, kept]);

    // The alarm delivers it, then forgets it.
    await runDurableObjectAlarm(app);
    expect(await stored()).toEqual([gone, gone, kept, kept]);
    for (const id of ids.slice(0, 2)) {
      const r = await callJson(`/v1/rollouts/${id}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id, status: "cancelled", error: expect.stringContaining("superseded by rollout") });
      const github = await callJson(`/v1/rollouts/${id}/github`);
      expect(github.status).toBe(404);
      expect(github.body.error.message).toBe(`rollout ${id} is in history only: what GitHub was told is kept for the newest 200 finished rollouts of an app`);
    }
    expect((await callJson(`/v1/rollouts/${ids[2]}/github`)).status).toBe(200);
    expect((await rollout(ids[3]!)).status).toBe("cancelled");

    // A finished rollout whose job still runs (superseded while running) stays until that job's end is in.
    await runInDurableObject(app, (instance: AppState) => void (instance.finishedKept = 0));
    const live = (await push("forget")).rollouts[0]!.id;
    const running = await hostStub("forget-01").heartbeat("agent-forget-01");
    expect(running.job?.rollout_id).toBe(live);
    const last = (await push("forget")).rollouts[0]!.id;
    expect((await callJson(`/v1/rollouts/${last}/cancel`, { method: "POST" })).status).toBe(200);
    for (const host of hostsOf("forget")) await settleHistory(host);
    const present = (id: string) => runInDurableObject(app, (_instance: AppState, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM rollouts WHERE id = ?", id).one().n);
    await runDurableObjectAlarm(app);
    expect([await present(live), await present(last)]).toEqual([1, 0]);
    await hostStub("forget-01").report("agent-forget-01", running.job!.id, { status: "succeeded", exit_code: 0 });
    await settleHistory("forget-01");
    await runDurableObjectAlarm(app);
    expect(await present(live)).toBe(0);
  });
});

describe("rollouts through the API", () => {
  it("lists rollouts from history with filters, and refuses an unknown app or host", async () => {
    await settleApp("canary");
    const list = await callJson("/v1/rollouts?app=canary");
    expect(list.status).toBe(200);
    expect(list.body.rollouts.length).toBeGreaterThan(0);
    expect(list.body.rollouts.every((r: any) => r.app === "canary")).toBe(true);
    expect((await callJson("/v1/rollouts", { method: "POST", body: JSON.stringify({ app: "nope", ref: "main", sha: sha(1) }) })).status).toBe(404);
    expect((await callJson("/v1/rollouts", { method: "POST", body: JSON.stringify({ app: "canary", ref: "main", sha: sha(1), hosts: ["batch-01"] }) })).status).toBe(422);
    expect((await callJson("/v1/rollouts/canary.nope")).status).toBe(404);
  });

  it("reads a wave's answers once, then finds each host's row by its key", async () => {
    // A statement joining a JSON array (json_each) to a table must walk the array outside: SQLite
    // put the table outside once, and read the whole array again for each of the rollout's hosts.
    await recordStatements("plans");
    await push("plans");
    await settleApp("plans");
    const joins = (await recorded("plans")).filter(({ query }) => /json_each/.test(query) && /\bFROM\b[\s\S]*\b(rollout_hosts|rollouts|waves|releases)\b|\b(UPDATE|DELETE FROM)\s+(rollout_hosts|rollouts|waves|releases)\b/.test(query));
    expect(joins.length).toBeGreaterThan(0);
    for (const { query, bindings } of joins) {
      const plan = await runInDurableObject(appStub("plans"), (_instance: AppState, state) =>
        state.storage.sql.exec<{ parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...bindings).toArray(),
      );
      const outer = plan.filter((row) => row.parent === 0).map((row) => row.detail);
      const json = outer.findIndex((detail) => /json_each|MATERIALIZE|SCAN j\b/.test(detail));
      const table = outer.findIndex((detail) => /^(SEARCH|SCAN) (rollout_hosts|rollouts|waves|releases)\b/.test(detail));
      if (json >= 0 && table >= 0) expect(json, `${query}\n${outer.join("\n")}`).toBeLessThan(table);
    }
  });
});
