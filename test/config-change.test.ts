import { beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import fixture from "./fixtures/apps.test.yaml";
import { loadRunningConfig } from "../src/config/current";
import { callJson, hostStub, putConfig, recordingD1, sendWebhook, settleHistory, sha } from "./helpers";

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

/** Host → job id of one push (no agent runs here, so its jobs stay queued). */
async function push(repo: string, ref: string, n: number): Promise<Record<string, string>> {
  const res = await sendWebhook("push", { ref, after: sha(n), repository: { full_name: repo } });
  expect(res.status).toBe(202);
  const body = (await res.json()) as any;
  return Object.fromEntries(body.jobs.map((j: any) => [j.host, j.id]));
}

async function job(host: string, id: string) {
  await settleHistory(host);
  return (await callJson(`/v1/jobs/${id}`)).body;
}

describe("PUT /v1/config and the queue", () => {
  it("cancels queued jobs whose app no longer deploys to their host, and only those", async () => {
    const hello = await push("Codertocat/Hello-World", "refs/heads/master", 1);
    const worker = await push("acme/worker", "refs/heads/main", 2);

    // hello leaves host-02; worker stays there.
    const narrowed = fixture.replace("hosts: [host-01, host-02]", "hosts: [host-01]");
    const first = await putConfig(narrowed);

    expect(first.status).toBe(200);
    const body = (await first.json()) as any;
    expect(body).toMatchObject({ changed: true, cancelled_jobs: [hello["host-02"]] });
    expect(await job("host-02", hello["host-02"]!)).toMatchObject({
      status: "cancelled",
      error: `cancelled: apps.yaml version ${body.version} no longer deploys this app to this host`,
    });
    expect((await hostStub("host-01").queued()).map((j) => j.id)).toEqual([hello["host-01"]]);
    expect((await hostStub("host-02").queued()).map((j) => j.id)).toEqual([worker["host-02"]]);

    // host-02 and its only app go away altogether.
    const removed = narrowed.replace("  host-02: { mode: agent }\n", "").replace(/\n  worker:\n(    .*\n|      .*\n)*/, "\n");
    expect(removed).not.toContain("host-02");
    const second = (await (await putConfig(removed)).json()) as any;

    expect(second).toMatchObject({ changed: true, hosts: ["host-01", "host-03"], cancelled_jobs: [worker["host-02"]] });
    expect(await hostStub("host-02").queued()).toEqual([]);
    expect((await hostStub("host-01").queued()).map((j) => j.id)).toEqual([hello["host-01"]]);
    const repeat = (await (await putConfig(removed)).json()) as any;
    expect(repeat).toMatchObject({ changed: false, cancelled_jobs: [] });
  });
});

describe("a stored apps.yaml that today's limits refuse", () => {
  it("is not run (a clear error, not a wedge), and a PUT replaces it", async () => {
    const { insertConfigVersion } = await import("../src/db/queries");
    const { drizzle } = await import("drizzle-orm/d1");
    const hosts = Array.from({ length: 5_001 }, (_, i) => `  old-${i}: { mode: agent }`).join("\n");
    const stored = await insertConfigVersion(drizzle(env.DB), `version: 1\nhosts:\n${hosts}\napps: {}\n`, "legacy", new Date().toISOString());
    const refused = await callJson("/v1/hosts");
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatchObject({ code: "config_invalid" });
    expect(refused.body.error.message).toContain(`version ${stored.id}`);
    expect(refused.body.error.message).toMatch(/5001 hosts/);
    const replaced = await putConfig(fixture);
    expect(replaced.status).toBe(200);
    expect(((await replaced.json()) as any).changed).toBe(true);
    expect((await callJson("/v1/hosts")).status).toBe(200);
  }, 60_000);
});

describe("the running apps.yaml on every push", () => {
  it("reads only the newest version's id once that version is parsed: the file's text is read once per version", async () => {
    expect((await putConfig(fixture)).status).toBe(200);
    const { db, sent } = recordingD1(env.DB);
    const first = await loadRunningConfig(db);
    const second = await loadRunningConfig(db);
    expect(second).toBe(first); // the parsed file, kept
    const reads = sent.map(({ query }) => query);
    // At most one read of the text (none if this isolate parsed the version already), then ids only.
    expect(reads.filter((query) => /"yaml"/.test(query)).length).toBeLessThanOrEqual(1);
    expect(reads.at(-1)).toMatch(/^select "id" from "config_versions"/);
    expect(reads.at(-1)).not.toMatch(/"yaml"/);
  });
});
