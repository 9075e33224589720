import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, startController, type Controller } from "./controller";

// The issue-2 promise as a new user meets it: wrangler dev, a signed push, the jobs listed, kept across a restart.
let controller: Controller;

beforeAll(async () => {
  controller = await startController();
});
afterAll(async () => {
  await controller?.dispose();
});

it("creates one job per mapped host from a signed push, and keeps them across a restart", async () => {
  const res = await sendPush(controller, { repo: "acme/web", ref: "refs/heads/main", sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" });
  expect(res.status).toBe(202);
  const { jobs } = (await res.json()) as { jobs: Array<{ id: string; host: string }> };
  expect(jobs.map((j) => j.host).sort()).toEqual(["host-01", "host-02"]);

  const listed = async () => ((await (await api(controller, "/v1/jobs")).json()) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id);
  let ids: string[] = [];
  for (let i = 0; i < 20 && ids.length < 2; i++) {
    ids = await listed();
    if (ids.length < 2) await new Promise((r) => setTimeout(r, 100));
  }
  expect(ids.sort()).toEqual(jobs.map((j) => j.id).sort());

  await controller.restart();
  expect((await listed()).sort()).toEqual(jobs.map((j) => j.id).sort());
  const host = (await (await api(controller, "/v1/hosts/host-01")).json()) as { queued: number };
  expect(host.queued).toBe(1);
});

