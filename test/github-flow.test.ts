import { runInDurableObject } from "cloudflare:test";
import examples from "@octokit/webhooks-examples";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppState } from "../src/app/app-state";
import { appStub, callJson, hostStub, putConfig, sendWebhook, settleHistory, sha } from "./helpers";
import { githubEnv, PUBLIC_URL, standin } from "./notify-helpers";

// End to end in workerd: a signed webhook → a rollout in the app's object → a job that an agent
// runs → the host's outbox tells the app → its Notifications room tells the stand-in GitHub.
const config = `version: 1
hosts:
  flow-01: { mode: agent }
  hello-01: { mode: agent }
  solo-01: { mode: agent }
apps:
  flow:
    repo: acme-flow/web
    branches: [main]
    hosts: [flow-01]
    deploy: { image: "registry.test/flow:{sha}", container: flow }
  hello:
    repo: Codertocat/Hello-World
    environment: production
    branches: [master]
    hosts: [hello-01]
    deploy: { image: "registry.test/hello:{sha}", container: hello }
  solo:
    repo: acme-solo/web
    environment: solo-live
    environment_url: https://solo.example.com
    branches: [main]
    hosts: [solo-01]
    deploy: { image: "registry.test/solo:{sha}", container: solo }
`;

/** Real `deployment` events, as GitHub's own examples give them. */
const deploymentExamples = (examples as Array<{ name: string; examples: any[] }>).find((e) => e.name === "deployment")!.examples;

beforeAll(async () => {
  const res = await putConfig(config);
  expect(res.status, await res.clone().text()).toBe(200);
});

/** Points the app's object at the stand-in GitHub (a token: the App flow is covered by the room's tests). */
const useStandin = (app: string) =>
  runInDurableObject(appStub(app), (instance: AppState) => void (instance.notifications.env = githubEnv({ GITHUB_TOKEN: "ghp_flow" })));

const flushGitHub = (app: string) => runInDurableObject(appStub(app), (instance: AppState) => instance.notifications.flush());

/** The agent on `host` takes its job and finishes it; the host's outbox then tells the app's object. */
async function run(host: string) {
  const stub = hostStub(host);
  const beat = await stub.heartbeat(`agent-${host}`);
  expect(beat.job).not.toBeNull();
  await stub.report(`agent-${host}`, beat.job!.id, { status: "succeeded", exit_code: 0 });
  await settleHistory(host);
  return beat.job!;
}

describe("GitHub in both directions, through the app's object", () => {
  it("a signed push makes a Deployment with statuses in_progress and success, log_url at the job's page", async () => {
    await useStandin("flow");
    const res = await sendWebhook("push", { ref: "refs/heads/main", after: sha(7001), repository: { full_name: "acme-flow/web" } });
    expect(res.status).toBe(202);
    const job = await run("flow-01");
    await flushGitHub("flow");

    const requests = await standin("requests", "acme-flow/web");
    expect(requests.flatMap((r) => r.problems)).toEqual([]);
    const creates = requests.filter((r) => r.operationId === "repos/create-deployment");
    expect(creates.map((r) => r.body)).toEqual([expect.objectContaining({ ref: sha(7001), environment: "flow/flow-01", payload: { deploybot: expect.objectContaining({ job_id: job.id }) } })]);
    const statuses = requests.filter((r) => r.operationId === "repos/create-deployment-status").map((r) => r.body);
    expect(statuses.map((s) => s.state)).toEqual(["queued", "in_progress", "success"]);
    expect(new Set(statuses.map((s) => s.log_url))).toEqual(new Set([`${PUBLIC_URL}/#/jobs/${job.id}`]));
    const commit = requests.filter((r) => r.operationId === "repos/create-commit-status").map((r) => [r.body.context, r.body.state]);
    expect(commit).toEqual([["deploybot/flow", "pending"], ["deploybot/flow", "success"]]);

    // The views' API: the job's Deployment, and the rollout's commit status with the commit's page.
    const { rollouts } = (await res.json()) as { rollouts: Array<{ id: string }> };
    expect((await callJson(`/v1/jobs/${job.id}/github`)).body).toEqual({
      deployment_url: expect.stringMatching(/\/repos\/acme-flow\/web\/deployments\/\d+$/),
      last_state: "success", state: "sent", error: null, context: null, commit_url: null,
    });
    expect((await callJson(`/v1/rollouts/${rollouts[0]!.id}/github`)).body).toEqual({
      deployment_url: null, last_state: "success", state: "sent", error: null, context: "deploybot/flow", commit_url: `http://github.test/acme-flow/web/commit/${sha(7001)}`,
    });
  });

  it("a deployment event (GitHub's example) deploys, and its statuses go on that same Deployment", async () => {
    await useStandin("hello");
    const event = structuredClone(deploymentExamples[0]);
    await standin("deployments", "Codertocat/Hello-World", { method: "POST", body: JSON.stringify(event.deployment) });
    const res = await sendWebhook("deployment", event);
    const answer = (await res.json()) as { jobs: Array<{ id: string; host: string; sha: string; ref: string; trigger: string }> };
    expect(res.status).toBe(202);
    expect(answer.jobs).toMatchObject([{ host: "hello-01", sha: event.deployment.sha, ref: "refs/heads/master", trigger: "github_deployment" }]);
    await run("hello-01");
    await flushGitHub("hello");

    const requests = await standin("requests", "Codertocat/Hello-World");
    expect(requests.flatMap((r) => r.problems)).toEqual([]);
    expect(requests.filter((r) => r.operationId === "repos/create-deployment")).toEqual([]);
    const statuses = requests.filter((r) => r.operationId === "repos/create-deployment-status");
    expect(new Set(statuses.map((r) => r.path))).toEqual(new Set([`/repos/Codertocat/Hello-World/deployments/${event.deployment.id}/statuses`]));
    expect(statuses.map((r) => [r.body.state, r.status])).toEqual([["in_progress", 201], ["success", 201]]);
    // The job's view is that Deployment's: it has none of its own.
    expect((await callJson(`/v1/jobs/${answer.jobs[0]!.id}/github`)).body).toMatchObject({ deployment_url: event.deployment.url, last_state: "success", state: "sent" });
  });

  it("apps.yaml gives an environment of a repository to one app: a second app in it is refused (422, line and column), and the event still deploys the first", async () => {
    const shared = `${config}  hello-docs:
    repo: codertocat/hello-world
    environment: production
    branches: [master]
    hosts: [hello-01]
    deploy: { image: "registry.test/docs:{sha}", container: docs }
`;
    const refused = await putConfig(shared);
    expect(refused.status).toBe(422);
    const { error } = (await refused.json()) as { error: { code: string; details: Array<{ path: string; line: number; column: number; message: string }> } };
    const line = shared.split("\n").lastIndexOf("    environment: production") + 1; // hello-docs's
    expect(error.details).toEqual([{ path: "apps.hello-docs.environment", line, column: 18, message: expect.stringContaining('is already app "hello"\'s') }]);

    await useStandin("hello");
    const event = structuredClone(deploymentExamples[0]);
    event.deployment.id = 4242;
    await standin("deployments", "Codertocat/Hello-World", { method: "POST", body: JSON.stringify(event.deployment) });
    const res = await sendWebhook("deployment", event);
    expect(await res.json()).toMatchObject({ jobs: [{ app: "hello", host: "hello-01" }] });
    await run("hello-01");
  });

  it("deployment events DeployBot caused, and deployment_status events, are ignored with a reason", async () => {
    const ours = structuredClone(deploymentExamples[0]);
    ours.deployment.id = 99;
    ours.deployment.payload = { deploybot: { job_id: "hello-01.x" } };
    const own = await sendWebhook("deployment", ours);
    expect(await own.json()).toMatchObject({ jobs: [], ignored: "deployment 99 was created by DeployBot" });

    const elsewhere = structuredClone(deploymentExamples[0]);
    elsewhere.deployment.environment = "staging";
    const unmapped = await sendWebhook("deployment", elsewhere);
    expect(await unmapped.json()).toMatchObject({ jobs: [], ignored: 'environment "staging" of Codertocat/Hello-World is not in apps.yaml' });

    const status = await sendWebhook("deployment_status", { deployment_status: { state: "success" } });
    expect(status.status).toBe(202);
    expect(await status.json()).toMatchObject({ jobs: [], ignored: expect.stringMatching(/deployment_status events are ignored/) });
  });

  it("a job outside any rollout tells GitHub with the app's current apps.yaml entry, also for an app that never had a rollout", async () => {
    const deploy = async (app: string, host: string, n: number) => {
      const res = await callJson("/v1/jobs", { method: "POST", body: JSON.stringify({ app, ref: "main", sha: sha(n), host }) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.rollout_id).toBeNull();
      const job = await run(host);
      await flushGitHub(app);
      return job;
    };
    const createdIn = async (repo: string) =>
      (await standin("requests", repo)).filter((r) => r.problems.length === 0 && r.operationId === "repos/create-deployment").map((r) => r.body);

    await useStandin("solo");
    const solo = await deploy("solo", "solo-01", 7101);
    expect(await createdIn("acme-solo/web")).toEqual([expect.objectContaining({ environment: "solo-live", payload: { deploybot: expect.objectContaining({ job_id: solo.id, rollout_id: null }) } })]);
    const statuses = (await standin("requests", "acme-solo/web")).filter((r) => r.operationId === "repos/create-deployment-status");
    expect(statuses.map((r) => [r.body.state, r.body.environment_url, r.status])).toEqual(["queued", "in_progress", "success"].map((state) => [state, "https://solo.example.com", 201]));

    // flow had a rollout under the first apps.yaml (no environment:); its entry now names one.
    const changed = await putConfig(config.replace("    repo: acme-flow/web\n", "    repo: acme-flow/web\n    environment: flow-live\n"));
    expect(changed.status, await changed.clone().text()).toBe(200);
    await useStandin("flow");
    const flow = await deploy("flow", "flow-01", 7102);
    const made = (await createdIn("acme-flow/web")).filter((body) => body.payload.deploybot.job_id === flow.id);
    expect(made.map((body) => body.environment)).toEqual(["flow-live"]);
  });
});
