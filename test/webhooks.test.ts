import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { beforeAll, describe, expect, it } from "vitest";
import { latestPushedSha, newerQueuedPush } from "../src/db/queries";
import fixture from "./fixtures/apps.test.yaml";
import { call, callJson, hostStub, putConfig, recordingD1, sendWebhook, settleHistory } from "./helpers";

// Real payloads as GitHub sends them (Codertocat/Hello-World; the fixture config tracks that repo).
const pushes = examples.find((d) => d.name === "push")!.examples as any[];
const pings = examples.find((d) => d.name === "ping")!.examples as any[];
const branchPush = pushes.find((p) => p.ref === "refs/heads/master" && !p.deleted)!;
const tagPush = pushes.find((p) => p.ref.startsWith("refs/tags/") && !p.deleted)!;
const tagDelete = pushes.find((p) => p.deleted)!;

const withRef = (ref: string, after = branchPush.after) => ({ ...branchPush, ref, after });
const jobsIn = async (host: string) => hostStub(host).queued();

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

describe("POST /v1/webhooks/github", () => {
  it("answers 401 and stores nothing when the signature is missing", async () => {
    const res = await sendWebhook("push", withRef("refs/heads/master", "1".repeat(40)), { signature: null, delivery: "unsigned" });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "invalid_signature", message: expect.any(String) } });
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE id = 'unsigned'").first("n")).toBe(0);
  });

  it("answers 401 for a signature made with another secret, a tampered body or a malformed header", async () => {
    const payload = withRef("refs/heads/master", "2".repeat(40));
    expect((await sendWebhook("push", payload, { secret: "not-the-secret" })).status).toBe(401);
    expect((await sendWebhook("push", payload, { signature: "sha256=zz" })).status).toBe(401);
    expect((await sendWebhook("push", payload, { signature: "sha1=" + "0".repeat(40) })).status).toBe(401);
    const body = JSON.stringify(payload);
    const { hmacHex } = await import("./helpers");
    const signature = `sha256=${await hmacHex("test-webhook-secret", body)}`;
    const tampered = body.replace("2222", "3333");
    expect((await sendWebhook("push", tampered, { signature })).status).toBe(401);
    expect(await jobsIn("host-01")).toEqual([]);
  });

  it("answers a signed ping with 200", async () => {
    const res = await sendWebhook("ping", pings[0], { delivery: "ping-1" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ delivery_id: "ping-1", pong: true });
  });

  it("queues one job per host for a push to a tracked branch", async () => {
    const res = await sendWebhook("push", branchPush, { delivery: "push-branch" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body.delivery_id).toBe("push-branch");
    expect(body.ignored).toBeUndefined();
    expect(body.jobs.map((j: any) => j.host).sort()).toEqual(["host-01", "host-02"]);
    for (const job of body.jobs) {
      expect(job).toMatchObject({
        app: "hello",
        repo: "Codertocat/Hello-World",
        ref: "refs/heads/master",
        sha: branchPush.after,
        mode: "agent",
        status: "queued",
        attempt: 1,
        agent_id: null,
        trigger: "webhook",
        started_at: null,
        finished_at: null,
        exit_code: null,
        error: null,
      });
      expect(new Date(job.created_at).toISOString()).toBe(job.created_at);
    }
    expect((await jobsIn("host-01")).map((j) => j.id)).toContain(body.jobs.find((j: any) => j.host === "host-01").id);
  });

  it("answers a redelivery with the first answer's jobs and queues nothing new", async () => {
    const payload = withRef("refs/heads/master", "4".repeat(40));
    const first = (await (await sendWebhook("push", payload, { delivery: "redelivered" })).json()) as any;
    const queuedBefore = (await jobsIn("host-01")).length;
    const again = await sendWebhook("push", payload, { delivery: "redelivered" });
    expect(again.status).toBe(202);
    const second = (await again.json()) as any;
    expect(second.jobs.map((j: any) => j.id).sort()).toEqual(first.jobs.map((j: any) => j.id).sort());
    expect((await jobsIn("host-01")).length).toBe(queuedBefore);
  });

  it("queues jobs for a push of a tag that matches the app's tag patterns", async () => {
    const res = await sendWebhook("push", tagPush, { delivery: "push-tag" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body.jobs).toHaveLength(2);
    expect(body.jobs[0].ref).toBe("refs/tags/simple-tag");
  });

  it.each([
    ["a deleted ref", "push", () => tagDelete, "refs/tags/simple-tag was deleted"],
    ["an untracked branch", "push", () => withRef("refs/heads/feature/x"), "refs/heads/feature/x is not tracked by hello"],
    ["an unknown repo", "push", () => ({ ...branchPush, repository: { ...branchPush.repository, full_name: "someone/else" } }), "repository someone/else is not in apps.yaml"],
    ["another event", "issues", () => ({ action: "opened" }), 'event "issues" is not handled; only push and deployment deploy'],
  ])("answers 202 with no jobs and the reason for %s", async (_case, event, payload, reason) => {
    const before = (await jobsIn("host-01")).length;
    const res = await sendWebhook(event, payload());
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ delivery_id: expect.any(String), jobs: [], ignored: reason });
    expect((await jobsIn("host-01")).length).toBe(before);
  });

  it("accepts GitHub's form-encoded payloads", async () => {
    const payload = withRef("refs/heads/release/1", "5".repeat(40));
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const { hmacHex } = await import("./helpers");
    const res = await call("/v1/webhooks/github", {
      method: "POST",
      token: null,
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-github-event": "push",
        "x-github-delivery": "form-1",
        "x-hub-signature-256": `sha256=${await hmacHex("test-webhook-secret", body)}`,
      },
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).jobs).toHaveLength(2);
  });

  it("answers 400 for a signed body that is not JSON, or JSON that is not a push", async () => {
    const notJson = await sendWebhook("push", "{this is not json");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe("invalid_json");
    const notPush = await sendWebhook("push", { zen: "hello" });
    expect(notPush.status).toBe(400);
    expect(((await notPush.json()) as any).error.code).toBe("invalid_payload");
    const noDelivery = await call("/v1/webhooks/github", {
      method: "POST",
      token: null,
      body: "{}",
      headers: { "x-github-event": "push", "x-hub-signature-256": `sha256=${await (await import("./helpers")).hmacHex("test-webhook-secret", "{}")}` },
    });
    expect(noDelivery.status).toBe(400);
  });

  it("answers 413 for a body over 25 MiB, by its length, before reading it", async () => {
    const big = new Uint8Array(25 * 1024 * 1024 + 1).fill(0x20);
    const res = await call("/v1/webhooks/github", {
      method: "POST",
      token: null,
      body: big,
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "too-big", "x-hub-signature-256": "sha256=00" },
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("payload_too_large");
  });

  it("records deliveries and their jobs in D1", async () => {
    await sendWebhook("push", withRef("refs/heads/master", "6".repeat(40)), { delivery: "recorded" });
    await settleHistory("host-01");
    await settleHistory("host-02");
    const row = await env.DB.prepare("SELECT outcome, repo, ref, sha, jobs FROM deliveries WHERE id = 'recorded'").first<any>();
    expect(row).toMatchObject({ outcome: "queued", repo: "Codertocat/Hello-World", ref: "refs/heads/master", sha: "6".repeat(40) });
    const ids = JSON.parse(row.jobs).map((j: any) => j.id);
    const listed = await callJson(`/v1/jobs?app=hello&limit=200`);
    expect(listed.body.jobs.map((j: any) => j.id)).toEqual(expect.arrayContaining(ids));
  });
});

describe("pushes delivered out of order", () => {
  const commit = (id: string, timestamp: string) => ({ id, message: "m", timestamp });

  it("ignores an older push that arrives after a newer one of the same ref: the newer sha wins", async () => {
    const older = { ...withRef("refs/heads/release/7", "7".repeat(40)), before: "0".repeat(39) + "1", head_commit: commit("7".repeat(40), "2026-11-20T10:00:00Z") };
    const newer = { ...withRef("refs/heads/release/7", "8".repeat(40)), before: "7".repeat(40), head_commit: commit("8".repeat(40), "2026-11-20T10:05:00+00:00") };
    const first = (await (await sendWebhook("push", newer)).json()) as any;
    expect(first.jobs).toHaveLength(2);
    const late = await sendWebhook("push", older);
    expect(late.status).toBe(202);
    expect(await late.json()).toEqual({
      delivery_id: expect.any(String),
      jobs: [],
      ignored: "older than 8888888, already received for refs/heads/release/7: the newer push wins",
    });
    const queued = await jobsIn("host-01");
    expect(queued.filter((j) => j.ref === "refs/heads/release/7").map((j) => j.sha)).toEqual(["8".repeat(40)]);
  });

  it("recognises the older push by time when the pushes are not adjacent", async () => {
    const newest = { ...withRef("refs/heads/release/8", "a".repeat(39) + "1"), before: "b".repeat(40), head_commit: commit("a".repeat(39) + "1", "2026-11-21T12:00:00Z") };
    const oldest = { ...withRef("refs/heads/release/8", "a".repeat(39) + "2"), before: "c".repeat(40), head_commit: commit("a".repeat(39) + "2", "2026-11-21T11:00:00Z") };
    await sendWebhook("push", newest);
    expect(((await (await sendWebhook("push", oldest)).json()) as any).ignored).toMatch(/^older than aaaaaaa/);
  });

  it("still deploys pushes that arrive in order", async () => {
    const a = { ...withRef("refs/heads/release/9", "d".repeat(40)), before: "e".repeat(40), head_commit: commit("d".repeat(40), "2026-11-22T09:00:00Z") };
    const b = { ...withRef("refs/heads/release/9", "f".repeat(39) + "0"), before: "d".repeat(40), head_commit: commit("f".repeat(39) + "0", "2026-11-22T09:01:00Z") };
    expect(((await (await sendWebhook("push", a)).json()) as any).jobs).toHaveLength(2);
    expect(((await (await sendWebhook("push", b)).json()) as any).jobs).toHaveLength(2);
  });
});

describe("the push lookups as deliveries grow", () => {
  it("find a push's neighbours and a ref's newest sha through indexes: no lookup reads the whole table", async () => {
    // Every statement the lookups send, as drizzle renders it, then asked of D1 how it would run.
    const { db: recording, sent } = recordingD1(env.DB);
    const db = drizzle(recording);
    const push = { repo: "Codertocat/HELLO-world", ref: "refs/heads/master", before: "1".repeat(40), after: "2".repeat(40), pushedAt: new Date().toISOString(), receivedAt: new Date().toISOString() };
    await newerQueuedPush(db, push);
    await latestPushedSha(db, push.repo, push.ref);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    for (const { query, params } of sent) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`).bind(...params).all<{ detail: string }>();
      const steps = plan.results.map((row) => row.detail);
      expect(steps.join("; "), query).toMatch(/SEARCH deliveries USING INDEX/);
      expect(steps.join("; "), query).not.toMatch(/SCAN deliveries/);
    }
  });
});

describe("a push dated in the future", () => {
  const commit = (id: string, timestamp: string) => ({ id, message: "m", timestamp });

  it("does not block its branch: the next push, whose before is its sha, deploys", async () => {
    const future = { ...withRef("refs/heads/release/2099", "1".repeat(39) + "a"), before: "2".repeat(40), head_commit: commit("1".repeat(39) + "a", "2099-01-01T00:00:00Z") };
    const next = { ...withRef("refs/heads/release/2099", "1".repeat(39) + "b"), before: future.after, head_commit: commit("1".repeat(39) + "b", new Date().toISOString()) };
    expect(((await (await sendWebhook("push", future)).json()) as any).jobs).toHaveLength(2);
    const answer = (await (await sendWebhook("push", next)).json()) as any;
    expect(answer.ignored).toBeUndefined();
    expect(answer.jobs).toHaveLength(2);
  });

  it("is ordered by its arrival, not its date: a later unrelated push (force-push) deploys", async () => {
    const future = { ...withRef("refs/heads/release/2098", "3".repeat(39) + "a"), before: "4".repeat(40), head_commit: commit("3".repeat(39) + "a", "2099-06-01T00:00:00Z") };
    expect(((await (await sendWebhook("push", future)).json()) as any).jobs).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const forced = { ...withRef("refs/heads/release/2098", "3".repeat(39) + "b"), before: "5".repeat(40), head_commit: commit("3".repeat(39) + "b", "2099-01-01T00:00:00Z") };
    const answer = (await (await sendWebhook("push", forced)).json()) as any;
    expect(answer.ignored).toBeUndefined();
    expect(answer.jobs).toHaveLength(2);
    const row = await env.DB.prepare("SELECT pushed_at, created_at FROM deliveries WHERE sha = ?").bind(future.after).first<any>();
    expect(row.pushed_at <= row.created_at).toBe(true);
  });
});

describe("bounded payload fields", () => {
  it("refuses a ref, repository name or before sha past their bounds with 400 and stores nothing", async () => {
    const long = { ...withRef(`refs/heads/${"x".repeat(300)}`, "9".repeat(39) + "c") };
    const res = await sendWebhook("push", long, { delivery: "long-ref" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe("invalid_payload");
    const repo = { ...branchPush, repository: { ...branchPush.repository, full_name: `a/${"b".repeat(200)}` } };
    expect((await sendWebhook("push", repo)).status).toBe(400);
    const before = { ...branchPush, before: "not-a-sha; drop table" };
    const refused = await sendWebhook("push", before);
    expect(refused.status).toBe(400);
    await refused.text();
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE id = 'long-ref'").first("n")).toBe(0);
  });
});
