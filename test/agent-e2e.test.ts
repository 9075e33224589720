import { beforeAll, expect, it } from "vitest";
import fixture from "./fixtures/apps.test.yaml";
import { callJson, hostStub, openSse, putConfig, scriptedAgent, sendWebhook, settleHistory } from "./helpers";

// The "done when": a scripted agent, a webhook-created job, 10,000 log lines over SSE,
// success in history; and a second agent that goes silent mid-job, retried by the alarm on its own.
beforeAll(async () => {
  expect((await putConfig(fixture.replace("lease: 60s", "lease: 1s"))).status).toBe(200);
});

const LINES = 10_000;
const BATCH = 500;

it("runs a webhook job end to end with 10,000 log lines received complete and in order", async () => {
  const agent = await scriptedAgent("host-01");
  const polling = agent.heartbeat(null, 30);
  await new Promise((r) => setTimeout(r, 100));
  const hook = await sendWebhook("push", { ref: "refs/heads/master", after: "e".repeat(40), repository: { full_name: "Codertocat/Hello-World" } });
  const jobId = ((await hook.json()) as any).jobs.find((j: any) => j.host === "host-01").id;
  const beat = await polling;
  expect(beat.body.job.id).toBe(jobId);
  await agent.status(jobId, { status: "running", attempt: 1 });
  await settleHistory("host-01");

  const subscriber = await openSse(`/v1/logs/stream?job_id=${jobId}`);
  const received = (async () => {
    const events = await subscriber.until((e) => e.event === "end");
    await subscriber.close();
    return events;
  })();

  for (let start = 1; start <= LINES; start += BATCH) {
    const lines = Array.from({ length: BATCH }, (_, i) => ({ seq: start + i, text: `deploy output line ${start + i}` }));
    const res = await agent.logs(jobId, lines, 1);
    expect(res.status).toBe(204);
    if (start % 2000 === 1) await agent.heartbeat(jobId);
  }
  await agent.status(jobId, { status: "succeeded", exit_code: 0, attempt: 1 });

  const events = await received;
  const agentLines = events.filter((e) => e.event === "log" && e.data.stream === "stdout");
  expect(agentLines).toHaveLength(LINES);
  agentLines.forEach((e, i) => expect(e.data.seq).toBe(i + 1));
  expect(agentLines.at(-1)!.data.text).toBe(`deploy output line ${LINES}`);
  const ids = events.filter((e) => e.id).map((e) => Number(e.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(new Set(ids).size).toBe(ids.length);
  expect(events.at(-1)).toMatchObject({ event: "end", data: { status: "succeeded" } });

  await settleHistory("host-01");
  expect((await callJson(`/v1/jobs/${jobId}`)).body).toMatchObject({ status: "succeeded", exit_code: 0 });
}, 60_000);

it("retries the job of an agent that stops heartbeating, on the lease schedule, without help", async () => {
  const silent = await scriptedAgent("host-02");
  const hook = await sendWebhook("push", { ref: "refs/heads/master", after: "f".repeat(40), repository: { full_name: "Codertocat/Hello-World" } });
  const jobId = ((await hook.json()) as any).jobs.find((j: any) => j.host === "host-02").id;
  const beat = await silent.heartbeat();
  expect(beat.body.job.id).toBe(jobId);
  await silent.status(jobId, { status: "running" });
  // No more heartbeats. The 1 s lease runs out and the object's own alarm queues attempt 2.
  const stub = hostStub("host-02");
  let job = await stub.getJob(jobId);
  for (let i = 0; i < 50 && job?.status === "running"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    job = await stub.getJob(jobId);
  }
  expect(job).toMatchObject({ status: "queued", attempt: 2, agent_id: null });
  const rescuer = await scriptedAgent("host-02");
  expect((await rescuer.heartbeat()).body.job).toMatchObject({ id: jobId, attempt: 2 });
  expect((await silent.status(jobId, { status: "succeeded", attempt: 1 })).status).toBe(409);
}, 30_000);
