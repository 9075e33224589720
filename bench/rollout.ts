// Rollout wave hand-over: a 50-host rollout in batches of 10 with a scripted agent long-polling on
// every host. For each wave after the first: the time from the last job of the wave before it
// succeeding (its agent's report sent) to the first job of this wave handed out (an agent's
// long poll answered with it). That path crosses the host's outbox, the app's object, and the next
// hosts' objects.
import { api, sendPush, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { ms, summary } from "./lib.ts";

const HOSTS = 50;
const BATCH = 10;
const ROLLOUTS = Number(process.env.BENCH_ROLLOUTS ?? 10);
const hosts = Array.from({ length: HOSTS }, (_, i) => `wave-${String(i).padStart(2, "0")}`);

const config = `version: 1
defaults: { lease: 60s, retries: 0 }
hosts:
${hosts.map((h) => `  ${h}: { mode: agent }`).join("\n")}
apps:
  waves:
    repo: bench/waves
    branches: [main]
    hosts: [${hosts.join(", ")}]
    rollout: { batch: ${BATCH} }
    deploy: { image: "r/waves:{sha}", container: waves }
`;

export async function benchRollout(controller: Controller): Promise<string> {
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status} ${await put.text()}`);
  // Per rollout: when each host's job was handed out, and when its success was acknowledged.
  const handed = new Map<string, Map<string, number>>();
  const succeeded = new Map<string, Map<string, number>>();
  const record = (table: typeof handed, rollout: string, host: string) => {
    if (!table.has(rollout)) table.set(rollout, new Map());
    table.get(rollout)!.set(host, performance.now());
  };
  // Idle agents long-poll for 50 s, as the .NET agent does; the polls still held at the end are aborted.
  const polls = new AbortController();
  const loops = hosts.map(async (host) => {
    const agent = await ScriptedAgent.register(controller, host);
    while (!polls.signal.aborted) {
      const beat = await agent.heartbeat(null, 50, polls.signal).catch((err) => {
        if (polls.signal.aborted) return null;
        throw err;
      });
      if (!beat) break;
      const job = beat.body?.job;
      if (!job) continue;
      record(handed, job.rollout_id, host);
      await agent.status(job.id, { status: "running", attempt: job.attempt });
      // The job succeeds when its agent says so: the clock starts as the report leaves.
      record(succeeded, job.rollout_id, host);
      const done = await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
      if (done.status !== 200) throw new Error(`report: ${done.status}`);
    }
  });
  const gaps: number[] = [];
  try {
    // Rollout -1 warms up (the app's object, the JIT), as the fan-out's first push does; it is not counted.
    for (let r = -1; r < ROLLOUTS; r++) {
      const res = await sendPush(controller, { repo: "bench/waves", ref: "refs/heads/main", sha: (9001 + r).toString(16).padStart(40, "0") });
      const id = ((await res.json()) as { rollouts: Array<{ id: string }> }).rollouts[0]!.id;
      const deadline = Date.now() + 120_000;
      // The bench watches its own agents rather than polling the API while the rollout runs: ten
      // compressed 50-host answers a second (Node's fetch asks for gzip) would load the one thread
      // the hand-over is measured on. The API confirms the outcome once every host has reported.
      while ((succeeded.get(id)?.size ?? 0) < HOSTS) {
        if (Date.now() > deadline) throw new Error(`rollout ${id}: ${succeeded.get(id)?.size ?? 0} of ${HOSTS} hosts reported`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (;;) {
        const rollout = (await (await api(controller, `/v1/rollouts/${id}`)).json()) as { status: string };
        if (rollout.status === "succeeded") break;
        if (rollout.status !== "running" || Date.now() > deadline) throw new Error(`rollout ${id}: ${rollout.status}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (r < 0) continue;
      for (let w = 1; w < HOSTS / BATCH; w++) {
        const lastDone = Math.max(...hosts.slice((w - 1) * BATCH, w * BATCH).map((h) => succeeded.get(id)!.get(h)!));
        const firstOut = Math.min(...hosts.slice(w * BATCH, (w + 1) * BATCH).map((h) => handed.get(id)!.get(h)!));
        gaps.push(firstOut - lastDone);
      }
    }
  } finally {
    polls.abort();
    await Promise.allSettled(loops);
  }
  const s = summary(gaps);
  return [
    "## Rollout wave hand-over",
    "",
    `A ${HOSTS}-host rollout in batches of ${BATCH}, a scripted agent long-polling on every host (\`wait=50\`, uncompressed answers, as the .NET agent asks), ${ROLLOUTS} rollouts after one not counted: from the last job of a wave succeeding (its agent's report sent) to the first job of the next wave handed out (an agent's long poll answered). The path: the host's outbox, the app's Durable Object, the next wave's hosts. While a rollout runs the bench watches its own agents, not the API; it asks the API for the rollout once every host has reported. Served by ${controller.runtime}.`,
    "",
    "| n | p50 | p90 | p99 | max |",
    "| --- | --- | --- | --- | --- |",
    `| ${s.n} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} |`,
    "",
    `Target p99 < 100 ms: **${s.p99 < 100 ? "met" : "not met"}** (${ms(s.p99)}).`,
    "",
  ].join("\n");
}
