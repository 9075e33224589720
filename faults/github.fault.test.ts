import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, startController, type Controller } from "../test/e2e/controller.ts";
import { startStandin, type Standin } from "../test/e2e/github-standin-server.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { until } from "../test/e2e/until.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let controller: Controller;
let github: Standin;

const config = `version: 1
hosts:
  gh-01: { mode: agent }
  gh-02: { mode: agent }
apps:
  slow: { repo: acme-slow/web, branches: [main], hosts: [gh-01], deploy: { image: "r/slow:{short_sha}", container: slow } }
  killed: { repo: acme-killed/web, branches: [main], hosts: [gh-02], deploy: { image: "r/killed:{short_sha}", container: killed } }
`;

const sha = (n: number) => n.toString(16).padStart(40, "0");
const standin = async (route: string, repo: string, init?: RequestInit) => (await fetch(`${github.url}/_standin/${route}?repo=${repo}`, init)).json() as Promise<any[]>;

/** Runs one job to success on `host` as an agent would; returns its id and how long the deploy took. */
async function deploy(app: string, host: string, n: number) {
  const agent = await ScriptedAgent.register(controller, host);
  const pushed = Date.now();
  const push = (await (await sendPush(controller, { repo: `acme-${app}/web`, ref: "refs/heads/main", sha: sha(n) })).json()) as any;
  const job = await agent.takeJob();
  expect(job.id).toBe(push.jobs[0].id);
  await agent.status(job.id, { status: "running", attempt: 1 });
  await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: 1 });
  return { agent, jobId: job.id as string, tookMs: Date.now() - pushed };
}

beforeAll(async () => {
  github = await startStandin();
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString().replace(/\n/g, "\\n");
  controller = await startController({ vars: { GITHUB_APP_ID: "4242", GITHUB_APP_PRIVATE_KEY: pem, GITHUB_API_URL: github.url, DEPLOYBOT_PUBLIC_URL: "https://deploybot.example" } });
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await controller?.dispose();
  await github?.close();
});

it("GitHub answers 500, then 403 with Retry-After, then hangs: the deploy is on time, the statuses come later, in order, once", async () => {
  await report.verify(
    {
      title: "GitHub failing while a deploy runs",
      did: "The stand-in GitHub (checked against @octokit/openapi) answered DeployBot's first calls with 500, then 403 with Retry-After: 2 (secondary rate limit), then held the next call for 20 s; meanwhile a push was deployed by a scripted agent.",
      must: "The deploy never waits on GitHub (it ends well within the 20 s GitHub is held); one Deployment is created; its statuses queued, in_progress, success arrive later, in that order, none twice; every request valid for GitHub's description.",
    },
    async () => {
      await standin("faults", "acme-slow/web", { method: "POST", body: JSON.stringify([{ status: 500 }, { status: 403, retry_after: 2 }, { hang_ms: 20_000 }]) });
      const { jobId, tookMs } = await deploy("slow", "gh-01", 1);
      const ended = Date.now();
      const requests = await until("the three statuses", async () => {
        const list = await standin("requests", "acme-slow/web");
        return list.filter((r) => r.operationId === "repos/create-deployment-status" && r.status === 201).length >= 3 ? list : null;
      }, 120_000);
      const late = Date.now() - ended;
      expect(requests.flatMap((r) => r.problems)).toEqual([]);
      expect(requests.filter((r) => r.operationId === "repos/create-deployment" && r.status === 201)).toHaveLength(1);
      const states = requests.filter((r) => r.operationId === "repos/create-deployment-status" && r.status === 201).map((r) => r.body.state);
      expect(states).toEqual(["queued", "in_progress", "success"]);
      expect(requests.map((r) => r.status)).toEqual(expect.arrayContaining([500, 403]));
      // The held call: still unanswered (0) or answered after DeployBot gave up on it (504).
      expect(requests.some((r) => r.status === 0 || r.status === 504)).toBe(true);
      // Had the deploy waited on GitHub it would take the held call's 20 s at least; the bound leaves room for a loaded machine.
      expect(tookMs).toBeLessThan(15_000);
      const view = (await (await api(controller, `/v1/jobs/${jobId}/github`)).json()) as any;
      expect(view).toMatchObject({ state: "sent", last_state: "success" });
      return `the deploy took ${tookMs} ms from push to success; GitHub had the three statuses in order ${(late / 1000).toFixed(1)} s after it ended (${requests.length} requests, one Deployment, none doubled, none invalid).`;
    },
  );
});

it("the controller killed between creating a Deployment and posting its first status: the same Deployment is used after the restart", async () => {
  await report.verify(
    {
      title: "Controller killed between a Deployment and its first status",
      did: "The stand-in let the Deployment be created, then held the first status call; while it hung the controller was killed (kill -9) and started again; the job then finished.",
      must: "No second Deployment: every status of the job goes to the Deployment created before the kill.",
    },
    async () => {
      await standin("faults", "acme-killed/web", { method: "POST", body: JSON.stringify([{ hang_ms: 60_000, on: "repos/create-deployment-status" }]) });
      const agent = await ScriptedAgent.register(controller, "gh-02");
      await sendPush(controller, { repo: "acme-killed/web", ref: "refs/heads/main", sha: sha(2) });
      const before = await until("the first status on its way", async () => {
        const list = await standin("requests", "acme-killed/web");
        return list.some((r) => r.operationId === "repos/create-deployment-status") ? list : null;
      }, 60_000);
      // The kill lands where it should: the Deployment made, its first status held unanswered.
      expect(before.filter((r) => r.operationId === "repos/create-deployment").map((r) => r.status)).toEqual([201]);
      expect(before.filter((r) => r.operationId === "repos/create-deployment-status").map((r) => r.status)).toEqual([0]);
      await controller.crashAndRestart();
      const job = await agent.takeJob();
      await agent.status(job.id, { status: "running", attempt: 1 });
      await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: 1 });
      const made = await until("the success status", async () => {
        const list = await standin("deployments", "acme-killed/web");
        return list[0]?.statuses.some((s: any) => s.state === "success") ? list : null;
      }, 120_000);
      expect(made).toHaveLength(1);
      expect(made[0].statuses.map((s: any) => s.state)).toEqual(["queued", "in_progress", "success"]);
      return `one Deployment (${made[0].id}); after the restart its statuses were ${made[0].statuses.map((s: any) => s.state).join(", ")}.`;
    },
  );
});
