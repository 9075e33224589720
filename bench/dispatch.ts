// Dispatch latency: from the moment a job is queued (POST /v1/jobs sent) to the moment a waiting
// agent holds it, for the two channels an agent can use, in the same run on the same controller:
//   long-poll  POST /v1/agents/{id}/heartbeat?wait=50, parked before the job is queued
//   push       GET /v1/agents/{id}/connect (WebSocket), the job pushed by the host's object
// Between samples the agent reports success, so the host is idle again.
import { api, sendPush, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { ms, summary } from "./lib.ts";

const SAMPLES = Number(process.env.BENCH_DISPATCH_SAMPLES ?? 200);

export const dispatchConfig = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  bench-lp: { mode: agent }
  bench-ws: { mode: agent }
apps:
  bench:
    repo: bench/app
    branches: [main]
    hosts: [bench-lp, bench-ws]
    deploy: { image: "127.0.0.1:5000/bench:{short_sha}", container: bench }
`;

let shaCounter = 0;
const nextSha = () => (++shaCounter).toString(16).padStart(40, "0");

async function enqueue(controller: Controller, host: string) {
  const res = await api(controller, "/v1/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ app: "bench", ref: "main", sha: nextSha(), host }),
  });
  if (res.status !== 201) throw new Error(`enqueue: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function longPoll(controller: Controller): Promise<number[]> {
  const agent = await ScriptedAgent.register(controller, "bench-lp");
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const beat = agent.call(`/v1/agents/${agent.id}/heartbeat?wait=50`, { running_job_id: null });
    await new Promise((r) => setTimeout(r, 15)); // let the poll park in the object
    const t0 = performance.now();
    const enqueued = enqueue(controller, "bench-lp");
    const answer = await beat;
    const t1 = performance.now();
    const jobId = await enqueued;
    if (answer.body?.job?.id !== jobId) throw new Error(`long poll got ${JSON.stringify(answer.body)}, expected ${jobId}`);
    samples.push(t1 - t0);
    await agent.call(`/v1/jobs/${jobId}/status`, { status: "succeeded", exit_code: 0 });
  }
  return samples;
}

async function push(controller: Controller): Promise<number[]> {
  const agent = await ScriptedAgent.register(controller, "bench-ws");
  const url = `${controller.url.replace("http", "ws")}/v1/agents/${agent.id}/connect`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${agent.token}` } } as never);
  const inbox: Array<(m: any) => void> = [];
  ws.onmessage = (e) => inbox.shift()?.(JSON.parse(String(e.data)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket failed"));
  });
  const nextMessage = () => new Promise<any>((resolve) => inbox.push(resolve));
  ws.send(JSON.stringify({ type: "heartbeat", running_job_id: null }));
  await nextMessage();

  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const message = nextMessage();
    const t0 = performance.now();
    const enqueued = enqueue(controller, "bench-ws");
    const pushed = await message;
    const t1 = performance.now();
    const jobId = await enqueued;
    if (pushed.type !== "job" || pushed.job.id !== jobId) throw new Error(`push got ${JSON.stringify(pushed)}`);
    samples.push(t1 - t0);
    await agent.call(`/v1/jobs/${jobId}/status`, { status: "succeeded", exit_code: 0 });
  }
  ws.close();
  return samples;
}

/** A signed push webhook until the parked long poll answers with the job it queued. */
async function webhookToPoll(controller: Controller): Promise<number[]> {
  const agent = await ScriptedAgent.register(controller, "bench-lp");
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const beat = agent.call(`/v1/agents/${agent.id}/heartbeat?wait=50`, { running_job_id: null });
    await new Promise((r) => setTimeout(r, 15));
    const t0 = performance.now();
    const pushed = sendPush(controller, { repo: "bench/app", ref: "refs/heads/main", sha: nextSha() });
    const answer = await beat;
    const t1 = performance.now();
    const body = (await (await pushed).json()) as { jobs: Array<{ id: string; host: string }> };
    const jobId = body.jobs.find((j) => j.host === "bench-lp")?.id;
    if (answer.body?.job?.id !== jobId) throw new Error(`webhook poll got ${JSON.stringify(answer.body)}, expected ${jobId}`);
    samples.push(t1 - t0);
    await agent.call(`/v1/jobs/${jobId}/status`, { status: "succeeded", exit_code: 0 });
  }
  return samples;
}

/** POST /v1/jobs alone: the floor both channels stand on. */
async function enqueueOnly(controller: Controller): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const id = await enqueue(controller, "bench-lp");
    samples.push(performance.now() - t0);
    await api(controller, `/v1/jobs/${id}/cancel`, { method: "POST" }).then((r) => r.text()).catch(() => undefined);
  }
  return samples;
}

export async function benchDispatch(controller: Controller): Promise<string> {
  const put = await api(controller, "/v1/config", { method: "PUT", body: dispatchConfig, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status} ${await put.text()}`);
  await longPoll(controller).catch((e) => Promise.reject(e)); // warm-up pass is the first few samples; keep all
  const lp = summary(await longPoll(controller));
  const ws = summary(await push(controller));
  const floor = summary(await enqueueOnly(controller));
  const hook = summary(await webhookToPoll(controller));
  const row = (name: string, s: ReturnType<typeof summary>) => `| ${name} | ${s.n} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} |`;
  return [
    "## Dispatch: job queued → agent holds it",
    "",
    `Time from sending \`POST /v1/jobs\` (or, last row, a signed push webhook) to the waiting agent receiving the job, served by ${controller.runtime}, ${SAMPLES} samples each after a warm-up pass. Target: p99 < 50 ms.`,
    "",
    "| channel | n | p50 | p90 | p99 | max |",
    "| --- | --- | --- | --- | --- | --- |",
    row("long-poll heartbeat (`wait=50`)", lp),
    row("WebSocket push (`/connect`)", ws),
    row("`POST /v1/jobs` round trip alone", floor),
    row("signed push webhook → long-poll answered", hook),
    "",
    `Ratio push / long-poll at p99: ${(ws.p99 / lp.p99).toFixed(2)}; at p50: ${(ws.p50 / lp.p50).toFixed(2)}.`,
    "",
  ].join("\n");
}
