import { describe, expect, it } from "vitest";
import type { Rollout } from "../src/schemas/rollouts";
import { appOf, faults, githubEnv, PUBLIC_URL, SHA, snapshot, standin, withRoom, type Recorded } from "./notify-helpers";

// `inactive` for a release a newer one replaced, sent by DeployBot through the outbox (GitHub's own
// auto_inactive is turned off, see notify/notifications.ts), per host, checked against GitHub's
// OpenAPI description by the stand-in.

type Made = Array<{ id: number; url: string; payload: { deploybot?: { job_id: string } }; statuses: Array<{ state: string; description: string; log_url?: string }> }>;

/** Each Deployment's states, by the job it was made for (or its id, for one made elsewhere). */
async function statesByJob(repo: string): Promise<Record<string, string[]>> {
  const made = await standin<Made>("deployments", repo);
  return Object.fromEntries(made.map((d) => [d.payload.deploybot?.job_id ?? String(d.id), d.statuses.map((s) => s.state)]));
}

const at = (minute: number) => `2026-12-04T08:${String(minute).padStart(2, "0")}:00.000Z`;
const ended = (id: string, host: string, minute: number, sha = SHA) =>
  snapshot(id, "succeeded", { host, sha, started_at: at(minute - 1), finished_at: at(minute), exit_code: 0 });

const valid = (requests: Recorded[]) => {
  expect(requests.flatMap((r) => r.problems)).toEqual([]);
  const statuses = requests.filter((r) => r.operationId === "repos/create-deployment-status");
  expect(statuses.map((r) => r.body.auto_inactive)).toEqual(statuses.map(() => false));
  return statuses;
};

describe("inactive for a release replaced by a newer one", () => {
  it("marks the host's previous Deployment inactive after the newer one's success, once; a host sharing the environment keeps its own", async () => {
    const repo = "acme-inactive/web";
    const app = appOf(repo, "    environment: production");
    await withRoom("inactive", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      const newer = "def5678".padEnd(40, "0");
      room.jobChanged(ended("host-01.job-a", "host-01", 1), "web", app, clock.now());
      room.jobChanged(ended("host-02.job-b", "host-02", 2), "web", app, clock.now());
      await room.flush();
      expect(await statesByJob(repo)).toEqual({ "host-01.job-a": ["in_progress", "success"], "host-02.job-b": ["in_progress", "success"] });

      const replacing = ended("host-01.job-c", "host-01", 3, newer);
      room.jobChanged(replacing, "web", app, clock.now());
      room.jobChanged(replacing, "web", app, clock.now()); // delivered again: nothing new
      await room.flush();
      expect(await statesByJob(repo)).toEqual({
        "host-01.job-a": ["in_progress", "success", "inactive"],
        "host-02.job-b": ["in_progress", "success"],
        "host-01.job-c": ["in_progress", "success"],
      });
      const statuses = valid(await standin("requests", repo));
      // The newer one's success first, then the older one's inactive, in the repository's lane.
      const aPath = statuses[0]!.path;
      expect(statuses.slice(-2).map((r) => [r.path === aPath ? "job-a" : "job-c", r.body.state])).toEqual([["job-c", "success"], ["job-a", "inactive"]]);
      expect(statuses.at(-1)!.body).toEqual({ state: "inactive", description: "replaced by def5678", auto_inactive: false, log_url: `${PUBLIC_URL}/#/jobs/host-01.job-a` });
      expect(statuses.filter((r) => r.body.state === "inactive")).toHaveLength(1);
      expect(room.githubOf("host-01.job-a")).toMatchObject({ state: "sent", last_state: "inactive" });
    });
  });

  it("survives a restart and GitHub failing: the inactive is retried and lands once", async () => {
    const repo = "acme-inactive-retry/web";
    const app = appOf(repo);
    await withRoom("inactive-retry", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock, restart }) => {
      room.jobChanged(snapshot("host-01.job-d", "succeeded", { finished_at: at(10) }), "web", app, clock.now());
      await room.flush();

      const after = restart();
      await faults(repo, [{ pass: true }, { pass: true }, { status: 500 }]); // e's Deployment and success pass; d's inactive fails
      after.jobChanged(snapshot("host-01.job-e", "succeeded", { finished_at: at(11) }), "web", app, clock.now());
      await after.flush();
      expect(after.githubOf("host-01.job-d")).toMatchObject({ state: "retrying", last_state: "success", error: expect.stringMatching(/^500/) });
      clock.advance(1_000);
      await after.flush();

      expect(await statesByJob(repo)).toEqual({ "host-01.job-d": ["success", "inactive"], "host-01.job-e": ["success"] });
      valid(await standin("requests", repo));
    });
  });

  it("a success delivered after a newer one on the same host is marked inactive at once", async () => {
    const repo = "acme-inactive-late/web";
    const app = appOf(repo);
    await withRoom("inactive-late", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      room.jobChanged(snapshot("host-01.job-g", "succeeded", { finished_at: at(21) }), "web", app, clock.now());
      room.jobChanged(snapshot("host-01.job-f", "succeeded", { finished_at: at(20) }), "web", app, clock.now());
      await room.flush();
      expect(await statesByJob(repo)).toEqual({ "host-01.job-g": ["success"], "host-01.job-f": ["success", "inactive"] });
      valid(await standin("requests", repo));
    });
  });

  it("a deployment event's Deployment, live on the rollout's hosts, is marked inactive when a newer release replaces it", async () => {
    const repo = "acme-inactive-event/web";
    const app = appOf(repo, "    environment: production");
    await withRoom("inactive-event", githubEnv({ GITHUB_TOKEN: "ghp_test" }), async ({ room, clock }) => {
      await standin("deployments", repo, { method: "POST", body: JSON.stringify({ id: 777, sha: SHA, ref: "main", environment: "production" }) });
      room.deployments.adopt("web.r7", repo, 777, `https://github.test/repos/${repo}/deployments/777`);
      const rollout: Rollout = {
        id: "web.r7", app: "web", ref: "refs/heads/main", sha: SHA, status: "succeeded", trigger: "github_deployment",
        strategy: { canary: [], batch: null, pause_s: 0, on_failure: "halt", wave_timeout_s: 900 },
        waves: [{ hosts: ["host-01"], jobs: ["host-01.job-r"], states: ["succeeded"], status: "succeeded", started_at: at(30), finished_at: at(31) }],
        created_at: at(30), finished_at: at(31), error: null,
      };
      room.rolloutChanged(rollout, app, clock.now());
      room.jobChanged(ended("host-01.job-h", "host-01", 40), "web", app, clock.now());
      await room.flush();

      const states = await statesByJob(repo);
      expect(states["777"]).toEqual(["success", "inactive"]);
      expect(states["host-01.job-h"]).toEqual(["in_progress", "success"]);
      const inactive = valid(await standin("requests", repo)).find((r) => r.body.state === "inactive")!;
      expect(inactive.path).toBe(`/repos/${repo}/deployments/777/statuses`);
      expect(inactive.body.log_url).toBe(`${PUBLIC_URL}/#/rollouts/web.r7`);
    });
  });
});
