import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, startController, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { holdExclusiveLock } from "./d1-lock.ts";
import { until } from "../test/e2e/until.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let controller: Controller;

// Two apps on four hosts each, one host per wave, so a fault lands between waves.
const config = `version: 1
defaults: { lease: 30s, retries: 0 }
hosts:
${["k", "d"].flatMap((p) => [1, 2, 3, 4].map((n) => `  ${p}-0${n}: { mode: agent }`)).join("\n")}
apps:
  killed: { repo: acme/killed, branches: ["*"], hosts: [k-01, k-02, k-03, k-04], rollout: { batch: 1 }, deploy: { image: "r/k:{short_sha}", container: k } }
  dark: { repo: acme/dark, branches: ["*"], hosts: [d-01, d-02, d-03, d-04], rollout: { batch: 1 }, deploy: { image: "r/d:{short_sha}", container: d } }
`;

const sha = (n: number) => n.toString(16).padStart(40, "0");
const json = async (res: Response) => (await res.json()) as any;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A scripted agent per host that runs every job it is given (running, then succeeded) and counts
 * them by id, riding out a controller that goes away (its calls fail; it polls again).
 */
function fleet(hosts: string[], { gate = Promise.resolve(), deployMs = 0 }: { gate?: Promise<void>; deployMs?: number } = {}) {
  const runs = new Map<string, string[]>(hosts.map((h) => [h, []]));
  let stop = false;
  const loops = hosts.map(async (host) => {
    const agent = await ScriptedAgent.register(controller, host);
    await agent.heartbeat(null); // online, and its token verified and cached in the Worker
    await gate;
    while (!stop) {
      const beat = await agent.heartbeat(null, 1).catch(() => null);
      const job = beat?.body?.job;
      if (!job) {
        if (!beat) await sleep(200);
        continue;
      }
      runs.get(host)!.push(job.id);
      // As the real agent does: a report is sent again until the controller answers it.
      for (const report of [{ status: "running" }, { status: "succeeded", exit_code: 0 }]) {
        if (report.status === "succeeded") await sleep(deployMs); // the deploy itself
        while (!stop && ((await agent.status(job.id, { ...report, attempt: job.attempt }).catch(() => null))?.status ?? 503) >= 500) await sleep(200);
      }
    }
  });
  return { runs, stop: async () => ((stop = true), await Promise.allSettled(loops)) };
}

const rollout = async (id: string) => json(await api(controller, `/v1/rollouts/${id}`));

beforeAll(async () => {
  controller = await startController();
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await controller?.dispose();
});

it("the controller killed (kill -9) mid-rollout: it carries on after the restart, and no job runs twice", async () => {
  await report.verify(
    {
      title: "Controller killed mid-rollout",
      did: "A rollout of one app to 4 hosts, one host per wave, with scripted agents whose deploys take 1.5 s; kill -9 of wrangler dev and workerd once the second wave had started, then started again on the same state.",
      must: "The rollout finishes succeeded after the restart; every host ran exactly one job of it; no wave started twice.",
    },
    async () => {
      const hosts = ["k-01", "k-02", "k-03", "k-04"];
      // Each deploy takes 1.5 s, so the crash lands while the second wave runs.
      const agents = fleet(hosts, { deployMs: 1_500 });
      const push = await json(await sendPush(controller, { repo: "acme/killed", ref: "refs/heads/main", sha: sha(1) }));
      const id = push.rollouts[0].id;
      await until("the second wave to start", async () => (await rollout(id)).waves[1].status === "running");
      await controller.crashAndRestart();
      let last: unknown;
      const done = await until("the rollout to succeed after the restart", async () => {
        const r = (last = await rollout(id));
        return r.status === "succeeded" ? r : null;
      }, 90_000).catch((err: Error) => Promise.reject(new Error(`${err.message}: ${JSON.stringify(last)}; runs ${JSON.stringify([...agents.runs])}`)));
      await agents.stop();
      for (const host of hosts) expect(agents.runs.get(host)).toHaveLength(1);
      expect(done.waves.map((w: any) => w.jobs.length)).toEqual([1, 1, 1, 1]);
      const jobIds = done.waves.flatMap((w: any) => w.jobs);
      expect(new Set(jobIds).size).toBe(4);
      return `the rollout ended succeeded ${done.waves.length} waves later; each of the 4 hosts ran exactly 1 job (${jobIds.length} distinct jobs).`;
    },
  );
});

it("D1 failing mid-rollout: the rollout goes on, and history catches up", async () => {
  await report.verify(
    {
      title: "D1 failing mid-rollout",
      did: "Scripted agents online for 4 hosts (one host per wave); a push queued the first wave; then another process held an exclusive lock on the local D1 database for 8 s, and the agents started taking jobs.",
      must: "Waves keep starting and the rollout ends succeeded while D1 is locked (host objects tell the app's object directly, not through D1); when D1 is back, GET /v1/rollouts (which reads D1) shows it succeeded.",
    },
    async () => {
      const hosts = ["d-01", "d-02", "d-03", "d-04"];
      let open = () => {};
      const agents = fleet(hosts, { gate: new Promise<void>((resolve) => (open = resolve)) });
      await until("every agent online", async () => (await json(await api(controller, "/v1/hosts"))).hosts.filter((h: any) => hosts.includes(h.name) && h.online).length === 4);
      const push = await json(await sendPush(controller, { repo: "acme/dark", ref: "refs/heads/main", sha: sha(2) }));
      const id: string = push.rollouts[0].id;
      const lock = holdExclusiveLock(controller.d1File(), 8);
      await lock.ready;
      const locked = Date.now();
      open();
      // GET /v1/rollouts/{id} asks the app's object, which needs no D1.
      const during = await until("the rollout to end while D1 is locked", async () => {
        const r = await rollout(id);
        return r.status === "succeeded" ? r : null;
      }, 7_000);
      const tookMs = Date.now() - locked;
      await lock.released;
      await until("history to show the rollout succeeded", async () => {
        const list = await json(await api(controller, `/v1/rollouts?app=dark`));
        return list.rollouts.find((r: any) => r.id === id && r.status === "succeeded");
      }, 60_000);
      await agents.stop();
      for (const host of hosts) expect(agents.runs.get(host)).toHaveLength(1);
      return `all ${during.waves.length} waves ran and the rollout ended succeeded ${(tookMs / 1000).toFixed(1)} s into the 8 s D1 lock; history (GET /v1/rollouts) listed it succeeded ${((Date.now() - locked) / 1000).toFixed(1)} s after the lock began; each host ran 1 job.`;
    },
  );
});
