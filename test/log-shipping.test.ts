import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import fixture from "./fixtures/apps.test.yaml";
import { until } from "./e2e/until";
import { callJson, hostStub, putConfig, scriptedAgent, sendWebhook, sha, withFakeClock } from "./helpers";

// A file of its own: its host objects are new, so no timer of an earlier test (on the real clock) is pending in them.

const d1Lines = async (jobId: string) => (await env.DB.prepare("SELECT COUNT(*) AS n FROM job_logs WHERE job_id = ?").bind(jobId).first<{ n: number }>())!.n;
const d1Status = async (jobId: string) => (await env.DB.prepare("SELECT status FROM jobs WHERE id = ?").bind(jobId).first<{ status: string }>())?.status;

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});
afterEach(() => vi.restoreAllMocks());

describe("a host's log lines to D1", () => {
  it("go together 1 to 3 s after they came (1 s, and up to 2 s more at random), while the job's end goes to its app (and on to D1) at once", async () => {
    // The object runs in this isolate: the draw for this batch is a quarter of the 2 s, so it goes 1.5 s after its first line.
    vi.spyOn(Math, "random").mockReturnValue(0.25);
    await withFakeClock("host-02", async (clock) => {
      const agent = await scriptedAgent("host-02");
      const push = await sendWebhook("push", { ref: "refs/heads/master", after: sha(7001), repository: { full_name: "Codertocat/Hello-World" } });
      expect(push.status).toBe(202);
      const beat = await agent.heartbeat();
      const job = beat.body.job;
      expect(job).toMatchObject({ host: "host-02" });
      expect((await agent.logs(job.id, [{ seq: 1, text: "one" }, { seq: 2, text: "two" }])).status).toBe(204);
      expect((await agent.status(job.id, { status: "succeeded", exit_code: 0 })).status).toBe(200);
      await clock.advance(250);
      // The end reached the app's object, which wrote it to D1 (on its own, real clock); no line went yet.
      await until("the job's end in D1", async () => (await d1Status(job.id)) === "succeeded", 5_000, 20);
      expect(await d1Lines(job.id)).toBe(0);
      // The lines' batch began with the job's first line, when it was handed out (before the 250 ms).
      await clock.advance(1_249);
      await new Promise((r) => setTimeout(r, 100));
      expect(await d1Lines(job.id)).toBe(0);
      await clock.advance(1);
      const lines = await hostStub("host-02").jobLogs(job.id);
      expect(lines.length).toBeGreaterThanOrEqual(3); // DeployBot's own line and the agent's two
      await until("the job's lines in D1", async () => (await d1Lines(job.id)) === lines.length, 5_000, 20);
      // Read through the API, the job's log comes from its host's object all along.
      expect((await callJson(`/v1/jobs/${job.id}`)).status).toBe(200);
    });
  });
});
