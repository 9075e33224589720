// Heartbeat throughput on one host's Durable Object, as a ratio to a no-op route (GET /health) on the
// same workerd in the same run, both driven by autocannon with the same connections and duration.
import autocannon from "autocannon";
import type { Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";

const SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 10);
const CONNECTIONS = 20;

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export async function benchThroughput(controller: Controller): Promise<string> {
  const agent = await ScriptedAgent.register(controller, "bench-lp");
  await load({ url: `${controller.url}/health`, duration: 2 }); // warm-up
  const noop = await load({ url: `${controller.url}/health` });
  const beats = await load({
    url: `${controller.url}/v1/agents/${agent.id}/heartbeat?wait=0`,
    method: "POST",
    headers: { authorization: `Bearer ${agent.token}`, "content-type": "application/json" },
    body: JSON.stringify({ running_job_id: null }),
  });
  const bad = beats.non2xx + beats.errors + noop.non2xx + noop.errors;
  const ratio = beats.requests.average / noop.requests.average;
  return [
    "## Heartbeat throughput on one host's Durable Object",
    "",
    `autocannon, ${CONNECTIONS} connections, ${SECONDS} s each, against ${controller.runtime}. Each heartbeat authenticates the agent, records the heartbeat and a counter in the host's object (a storage write) and answers. Target: ratio ≥ 0.5.`,
    "",
    "| route | req/s (mean) | latency p50 | latency p99 | non-2xx + errors |",
    "| --- | --- | --- | --- | --- |",
    `| GET /health (no-op) | ${Math.round(noop.requests.average)} | ${noop.latency.p50} ms | ${noop.latency.p99} ms | ${noop.non2xx + noop.errors} |`,
    `| POST heartbeat, one host | ${Math.round(beats.requests.average)} | ${beats.latency.p50} ms | ${beats.latency.p99} ms | ${beats.non2xx + beats.errors} |`,
    "",
    `**Ratio heartbeat / no-op: ${ratio.toFixed(2)}**${bad ? ` (${bad} failed requests)` : ""}.`,
    "",
  ].join("\n");
}
