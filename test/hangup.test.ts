import { exports } from "cloudflare:workers";
import { beforeAll, expect, it } from "vitest";
import fixture from "./fixtures/apps.test.yaml";
import { BASE, callJson, hostStub, putConfig, scriptedAgent, sha } from "./helpers";

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

it("does not hand a job to a long poll whose client hung up", async () => {
  const agent = await scriptedAgent("host-02");
  const abort = new AbortController();
  const held = exports.default
    .fetch(
      new Request(`${BASE}/v1/agents/${agent.id}/heartbeat?wait=10`, {
        method: "POST",
        headers: { authorization: `Bearer ${agent.token}`, "content-type": "application/json" },
        body: JSON.stringify({ running_job_id: null }),
        signal: abort.signal,
      }),
    )
    .catch(() => null);
  await new Promise((r) => setTimeout(r, 200));
  abort.abort();
  await held;
  await new Promise((r) => setTimeout(r, 200));
  const res = await callJson("/v1/jobs", { method: "POST", body: JSON.stringify({ app: "worker", ref: "main", sha: sha(1), host: "host-02" }) });
  expect(res.status).toBe(201);
  await new Promise((r) => setTimeout(r, 200));
  expect(await hostStub("host-02").state()).toMatchObject({ queued: 1, running_job_id: null });
});
