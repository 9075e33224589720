import { describe, expect, it } from "vitest";
import { appKey, appOf, faults, githubEnv, PUBLIC_URL, SHA, snapshot, standin, withRoom } from "./notify-helpers";
import type { Rollout } from "../src/schemas/rollouts";

const statusesOf = (requests: Array<{ operationId: string | null; status: number; body: any }>) =>
  requests.filter((r) => r.operationId === "repos/create-deployment-status" && r.status === 201).map((r) => r.body.state);

describe("GitHub Deployments from the Notifications room", () => {
  it("the stand-in refuses what GitHub's description refuses", async () => {
    const bad = await fetch("http://github.test/repos/acme/x/deployments", { method: "POST", headers: { authorization: "token t" }, body: JSON.stringify({ environment: "e", auto_merge: "no" }) });
    const answer = (await bad.json()) as { errors: string[] };
    expect(bad.status).toBe(422);
    expect(answer.errors.join("\n")).toMatch(/required property "ref"[\s\S]*auto_merge/);
    const unknown = await fetch("http://github.test/repos/acme/x/deploymentz", { method: "POST", headers: { authorization: "token t" }, body: "{}" });
    expect(((await unknown.json()) as { errors: string[] }).errors[0]).toMatch(/not an operation/);
  });

  it("a job's transitions make one Deployment (App credentials) and its statuses in order, each valid for GitHub", async () => {
    const repo = "acme-app/web";
    const app = appOf(repo, "    environment_url: https://web.example.com\n    production_environment: true");
    const roomEnv = githubEnv({ GITHUB_APP_ID: "12345", GITHUB_APP_PRIVATE_KEY: await appKey() });
    await withRoom("app-creds", roomEnv, async ({ room, clock }) => {
      const id = "host-01.job-a";
      room.jobChanged(snapshot(id, "queued"), "web", app, clock.now());
      await room.flush();
      const running = snapshot(id, "running");
      room.jobChanged(running, "web", app, clock.now());
      room.jobChanged(running, "web", app, clock.now()); // at least once: a repeat tells nothing new
      await room.flush();
      room.jobChanged(snapshot(id, "succeeded"), "web", app, clock.now());
      await room.flush();

      const requests = await standin("requests", repo);
      expect(requests.flatMap((r) => r.problems)).toEqual([]);
      expect(requests.map((r) => r.operationId)).toEqual([
        "apps/get-repo-installation",
        "repos/list-deployments",
        "repos/create-deployment",
        "repos/create-deployment-status",
        "repos/create-deployment-status",
        "repos/create-deployment-status",
      ]);
      // The App's installation token, minted once by auth-app for all three calls, asked for as GitHub describes it.
      const minted = (await standin("requests", "")).filter((r) => r.operationId === "apps/create-installation-access-token");
      expect(minted.length).toBeGreaterThan(0);
      expect(minted.flatMap((r) => [r.problems, r.status])).toEqual(minted.flatMap(() => [[], 201]));
      const create = requests[2]!.body;
      expect(create).toMatchObject({ ref: SHA, environment: "web/host-01", auto_merge: false, required_contexts: [], production_environment: true, payload: { deploybot: { job_id: id, rollout_id: null } } });
      expect(statusesOf(requests)).toEqual(["queued", "in_progress", "success"]);
      for (const r of requests.slice(3)) {
        expect(r.path).toMatch(/\/deployments\/\d+\/statuses$/);
        expect(r.body).toMatchObject({ log_url: `${PUBLIC_URL}/#/jobs/${id}`, environment_url: "https://web.example.com" });
      }
      const view = room.githubOf(id)!;
      expect(view).toMatchObject({ state: "sent", last_state: "success", error: null });
      expect(view.deployment_url).toMatch(/\/repos\/acme-app\/web\/deployments\/\d+$/);
      expect(room.hasWork()).toBe(false);
    });
  });

  it("GitHub failing (500, then 403 with Retry-After, then hanging) delays only the statuses: later, in order, none doubled", async () => {
    const repo = "acme-faults/web";
    const app = appOf(repo);
    await withRoom("faults", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      await faults(repo, [{ status: 500 }, { status: 403, retry_after: 3 }, { hang_ms: 1_500 }]);
      const id = "host-01.job-f";
      // The deploy runs its whole course while GitHub is down: recording is synchronous and never waits on it.
      for (const status of ["queued", "running", "succeeded"] as const) room.jobChanged(snapshot(id, status), "web", app, clock.now());
      await room.flush();
      expect(room.githubOf(id)).toMatchObject({ state: "retrying", error: expect.stringMatching(/^500/) });

      clock.advance(1_000);
      await room.flush(); // 403, Retry-After: 3
      expect(room.githubOf(id)!.error).toMatch(/^403/);
      const before = (await standin("requests", repo)).length;
      clock.advance(2_000);
      await room.flush(); // not yet: GitHub said 3 s
      expect((await standin("requests", repo)).length).toBe(before);

      clock.advance(1_000);
      await room.flush(); // hangs past the room's timeout
      expect(room.githubOf(id)).toMatchObject({ state: "retrying" });
      clock.advance(10_000);
      await room.flush();

      const requests = await standin("requests", repo);
      expect(requests.flatMap((r) => r.problems)).toEqual([]);
      expect(requests.filter((r) => r.operationId === "repos/create-deployment" && r.status === 201)).toHaveLength(1);
      expect(statusesOf(requests)).toEqual(["queued", "in_progress", "success"]);
      expect(room.githubOf(id)).toMatchObject({ state: "sent", last_state: "success" });
    }, 300);
  });

  it("a Deployment whose answer was lost is found and reused, not created twice", async () => {
    const repo = "acme-lost/web";
    const app = appOf(repo);
    await withRoom("lost-answer", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      await faults(repo, [{ status: 502, after: true }]); // GitHub creates it, the answer never arrives
      const id = "host-01.job-l";
      room.jobChanged(snapshot(id, "running"), "web", app, clock.now());
      await room.flush();
      clock.advance(1_000);
      await room.flush();
      const made = await standin<Array<{ id: number; statuses: Array<{ state: string }> }>>("deployments", repo);
      expect(made).toHaveLength(1);
      expect(made[0]!.statuses.map((s) => s.state)).toEqual(["in_progress"]);
    });
  });

  it("killed between creating the Deployment and its first status: after the restart the same Deployment is used", async () => {
    const repo = "acme-killed/web";
    const app = appOf(repo);
    await withRoom("killed", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock, restart }) => {
      const id = "host-01.job-k";
      room.jobChanged(snapshot(id, "queued"), "web", app, clock.now());
      await faults(repo, [{ pass: true }, { status: 500 }]); // created, then the first status never lands (the "kill")
      await room.flush();
      const created = room.githubOf(id)!.deployment_url;
      expect(created).toMatch(/deployments\/\d+$/);

      const after = restart();
      after.jobChanged(snapshot(id, "succeeded"), "web", app, clock.now());
      clock.advance(1_000);
      await after.flush();
      const made = await standin<Array<{ id: number; url: string; statuses: Array<{ state: string }> }>>("deployments", repo);
      expect(made).toHaveLength(1);
      expect(made[0]!.url).toBe(created);
      expect(made[0]!.statuses.map((s) => s.state)).toEqual(["queued", "success"]);
    });
  });

  it("a job that started and ended between two deliveries (the outbox keeps the newest) is told as started, then ended", async () => {
    const repo = "acme-coalesced/web";
    await withRoom("coalesced", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      const ended = snapshot("host-01.job-c", "succeeded", { started_at: new Date().toISOString(), finished_at: new Date().toISOString(), exit_code: 0 });
      room.jobChanged(ended, "web", appOf(repo), clock.now());
      await room.flush();
      expect(statusesOf(await standin("requests", repo))).toEqual(["in_progress", "success"]);
    });
  });

  it("a rollout is summed up by a commit status deploybot/<app>", async () => {
    const repo = "acme-rollout/web";
    const app = appOf(repo);
    await withRoom("rollout", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      const rollout: Rollout = {
        id: "web.r1", app: "web", ref: "refs/heads/main", sha: SHA, status: "running", trigger: "webhook",
        strategy: { canary: [], batch: null, pause_s: 0, on_failure: "halt", wave_timeout_s: 900 },
        waves: [{ hosts: ["host-01"], jobs: [null], states: ["pending"], status: "running", started_at: null, finished_at: null }],
        created_at: new Date().toISOString(), finished_at: null, error: null,
      };
      room.rolloutChanged(rollout, app, clock.now());
      room.rolloutChanged(rollout, app, clock.now());
      room.rolloutChanged({ ...rollout, status: "succeeded" }, app, clock.now());
      await room.flush();
      const requests = await standin("requests", repo);
      expect(requests.flatMap((r) => r.problems)).toEqual([]);
      expect(requests.map((r) => [r.operationId, r.path, r.body.state, r.body.context])).toEqual([
        ["repos/create-commit-status", `/repos/${repo}/statuses/${SHA}`, "pending", "deploybot/web"],
        ["repos/create-commit-status", `/repos/${repo}/statuses/${SHA}`, "success", "deploybot/web"],
      ]);
      expect(requests[1]!.body.target_url).toBe(`${PUBLIC_URL}/#/rollouts/web.r1`);
      expect(room.githubOf("web.r1", { context: "deploybot/web", repo, sha: SHA })).toEqual({
        deployment_url: null, last_state: "success", state: "sent", error: null, context: "deploybot/web", commit_url: `http://github.test/${repo}/commit/${SHA}`,
      });
    });
  });

  it("without credentials GitHub is off: nothing is queued and the view says so", async () => {
    const repo = "acme-off/web";
    await withRoom("off", githubEnv({}), async ({ room, clock }) => {
      room.jobChanged(snapshot("host-01.job-o", "running"), "web", appOf(repo), clock.now());
      expect(room.hasWork()).toBe(false);
      expect(room.githubOf("host-01.job-o")).toEqual({ deployment_url: null, last_state: null, state: "off", error: null, context: null, commit_url: null });
    });
  });
});
