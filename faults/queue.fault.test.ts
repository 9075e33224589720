import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, startController, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { holdExclusiveLock } from "./d1-lock.ts";
import { until } from "../test/e2e/until.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let controller: Controller;

const config = `version: 1
defaults: { lease: 2s, retries: 1 }
hosts:
  f-01: { mode: agent }
  f-02: { mode: agent }
  f-03: { mode: agent }
apps:
  web: { repo: acme/web, branches: ["*"], hosts: [f-01, f-02], deploy: { image: "r/web:{short_sha}", container: web } }
  api: { repo: acme/api, branches: ["*"], hosts: [f-01, f-02], deploy: { image: "r/api:{short_sha}", container: api } }
  jobs: { repo: acme/jobs, branches: ["*"], hosts: [f-01, f-02], deploy: { image: "r/jobs:{short_sha}", container: jobs } }
  batch: { repo: acme/batch, branches: ["*"], hosts: [f-03], deploy: { image: "r/batch:{short_sha}", container: batch } }
`;

const sha = (n: number) => n.toString(16).padStart(40, "0");
const json = async (res: Response) => (await res.json()) as any;

/** Waits until `check` returns a truthy value (polling), or fails with `what`. */
beforeAll(async () => {
  controller = await startController();
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await controller?.dispose();
});

it("an agent killed mid-deploy: the job is retried per policy and never counted twice", async () => {
  await report.verify(
    {
      title: "Agent killed mid-deploy",
      did: "A scripted agent took a job, confirmed it, logged, then went silent (as if kill -9). Lease 2 s, retries 1. A second agent was waiting; later the first agent came back and reported success for its old attempt.",
      must: "The job is queued again as attempt 2 when the lease ends, handed to the second agent, finishes once; the first agent's late report is refused (409).",
    },
    async () => {
      const killed = await ScriptedAgent.register(controller, "f-01");
      const push = await json(await sendPush(controller, { repo: "acme/web", ref: "refs/heads/main", sha: sha(1) }));
      const jobId = push.jobs.find((j: any) => j.host === "f-01").id;
      const job = await killed.takeJob();
      expect(job.id).toBe(jobId);
      await killed.status(jobId, { status: "running", attempt: 1 });
      await killed.log(jobId, ["pulling image"]);
      const started = Date.now();
      const rescuer = await ScriptedAgent.register(controller, "f-01");
      const retried = await rescuer.takeJob(15);
      const waited = Date.now() - started;
      expect(retried).toMatchObject({ id: jobId, attempt: 2 });
      const late = await killed.status(jobId, { status: "succeeded", exit_code: 0, attempt: 1 });
      expect(late.status).toBe(409);
      await rescuer.status(jobId, { status: "succeeded", exit_code: 0, attempt: 2 });
      const final = await until("history", async () => {
        const j = await json(await api(controller, `/v1/jobs/${jobId}`));
        return j.status === "succeeded" ? j : null;
      });
      expect(final).toMatchObject({ attempt: 2, agent_id: rescuer.id });
      return `attempt 2 reached the second agent ${(waited / 1000).toFixed(1)} s after the first went silent; the late attempt-1 report got 409 (${late.body.error.code}); the job ended succeeded once, attempt 2.`;
    },
  );
});

it("the controller killed (kill -9) and started again mid-queue: no job lost", async () => {
  await report.verify(
    {
      title: "Controller killed mid-queue",
      did: "Queued six jobs (three apps × two hosts) with no agent online, then kill -9 of wrangler dev and workerd, and started it again on the same state.",
      must: "All six jobs are still queued, in order, and every one is dispatched once agents come.",
    },
    async () => {
      const ids: string[] = [];
      for (const [i, repo] of ["acme/web", "acme/api", "acme/jobs"].entries()) {
        const push = await json(await sendPush(controller, { repo, ref: "refs/heads/main", sha: sha(100 + i) }));
        ids.push(...push.jobs.map((j: any) => j.id));
      }
      expect(ids).toHaveLength(6);
      await controller.crashAndRestart();
      const hosts = await json(await api(controller, "/v1/hosts"));
      expect(hosts.hosts.map((h: any) => h.queued)).toEqual([3, 3, 0]);
      const got: string[] = [];
      for (const host of ["f-01", "f-02"]) {
        const agent = await ScriptedAgent.register(controller, host);
        for (let i = 0; i < 3; i++) {
          const job = await agent.takeJob();
          got.push(job.id);
          await agent.status(job.id, { status: "succeeded", exit_code: 0 });
        }
      }
      expect(got.sort()).toEqual([...ids].sort());
      return "after the crash both hosts still had 3 queued jobs; all 6 were handed out exactly once and succeeded.";
    },
  );
});

it("GitHub redelivers a webhook and delivers two pushes out of order: no duplicate, the newer sha wins", async () => {
  await report.verify(
    {
      title: "Webhook redelivery and out-of-order pushes",
      did: "Sent the same push twice (same X-GitHub-Delivery), then a newer push B of another ref, then the older push A of that ref (B.before = A.after) after it. Then a push C whose commit is dated 2099, and the push D that follows it (D.before = C.after, dated now).",
      must: "The redelivery answers with the first answer's jobs and creates none; A is ignored and B stays the deploy; C's date does not block the branch: D deploys.",
    },
    async () => {
      const delivery = crypto.randomUUID();
      const first = await json(await sendPush(controller, { repo: "acme/api", ref: "refs/heads/release", sha: sha(200) }, delivery));
      const again = await json(await sendPush(controller, { repo: "acme/api", ref: "refs/heads/release", sha: sha(200) }, delivery));
      expect(again.jobs.map((j: any) => j.id).sort()).toEqual(first.jobs.map((j: any) => j.id).sort());

      const body = (after: string, before: string, ts: string) =>
        JSON.stringify({ ref: "refs/heads/hotfix", before, after, repository: { full_name: "acme/api" }, head_commit: { id: after, timestamp: ts } });
      const send = async (payload: string) => {
        const { createHmac } = await import("node:crypto");
        const sig = createHmac("sha256", "e2e-webhook-secret").update(payload).digest("hex");
        return json(
          await fetch(`${controller.url}/v1/webhooks/github`, {
            method: "POST",
            body: payload,
            headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": `sha256=${sig}` },
          }),
        );
      };
      const newer = await send(body(sha(302), sha(301), "2026-11-27T10:05:00Z"));
      const older = await send(body(sha(301), sha(300), "2026-11-27T10:00:00Z"));
      expect(newer.jobs).toHaveLength(2);
      expect(older.jobs).toEqual([]);
      expect(older.ignored).toMatch(/newer push wins/);
      const future = await send(body(sha(303), sha(302), "2099-01-01T00:00:00Z"));
      const following = await send(body(sha(304), sha(303), new Date().toISOString()));
      expect(future.jobs).toHaveLength(2);
      expect(following.ignored).toBeUndefined();
      expect(following.jobs).toHaveLength(2);
      return `the redelivery returned the same ${first.jobs.length} job ids; the late older push was ignored ("${older.ignored}"); after a push dated 2099 the next push still queued ${following.jobs.length} jobs.`;
    },
  );
});

it("D1 failing for a while: jobs keep running and history catches up", async () => {
  await report.verify(
    {
      title: "D1 failing for a while",
      did: "An agent was online; a job was queued; then another process held an exclusive lock on the local D1 database for 6 s while the agent ran the job, logged and reported success.",
      must: "The job runs and ends while D1 is down (the host's Durable Object does not need D1); when D1 is back, the job's final status and every log line reach history.",
    },
    async () => {
      const agent = await ScriptedAgent.register(controller, "f-03");
      await agent.heartbeat(null); // the agent's token is now verified and cached in the Worker
      const push = await json(await sendPush(controller, { repo: "acme/batch", ref: "refs/heads/main", sha: sha(400) }));
      const jobId = push.jobs[0].id;
      await until("the job in history", async () => (await api(controller, `/v1/jobs/${jobId}`)).status === 200);

      const lock = holdExclusiveLock(controller.d1File(), 6);
      await lock.ready;
      const job = await agent.takeJob();
      expect(job.id).toBe(jobId);
      expect((await agent.status(jobId, { status: "running" })).status).toBe(200);
      await agent.log(jobId, ["one", "two", "three"]);
      const done = await agent.status(jobId, { status: "succeeded", exit_code: 0 });
      expect(done.body.status).toBe("succeeded");
      const during = await json(await api(controller, `/v1/jobs/${jobId}`)).catch(() => null);
      await lock.released;
      const caughtUp = Date.now();
      const final = await until("history to catch up", async () => {
        const j = await json(await api(controller, `/v1/jobs/${jobId}`));
        return j.status === "succeeded" ? j : null;
      }, 60_000);
      const lines = await json(await api(controller, `/v1/jobs/${jobId}/logs`));
      expect(lines.lines.filter((l: any) => l.stream === "stdout").map((l: any) => l.text)).toEqual(["one", "two", "three"]);
      return `the job ran and ended succeeded while D1 was locked (history then said: ${during?.status ?? "unreadable"}); ${((Date.now() - caughtUp) / 1000).toFixed(1)} s after the lock was released history showed ${final.status} and all 3 log lines.`;
    },
  );
});
