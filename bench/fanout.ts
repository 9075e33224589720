// Webhook fan-out: one signed push mapped to 100 hosts, time until the 202 (every job queued in its
// host's Durable Object before the answer), against the same push mapped to 1 host.
import { api, sendPush, type Controller } from "../test/e2e/controller.ts";
import { ms, summary } from "./lib.ts";

const HOSTS = 100;
const RUNS = Number(process.env.BENCH_FANOUT_RUNS ?? 15);

const config = `version: 1
hosts:
${Array.from({ length: HOSTS }, (_, i) => `  fan-${i}: { mode: agent }`).join("\n")}
apps:
  one: { repo: fan/one, branches: [main], hosts: [fan-0], deploy: { image: "r/one:{sha}", container: one } }
  many: { repo: fan/many, branches: [main], hosts: [${Array.from({ length: HOSTS }, (_, i) => `fan-${i}`).join(", ")}], deploy: { image: "r/many:{sha}", container: many } }
`;

async function timePush(controller: Controller, repo: string, n: number, expected: number): Promise<number> {
  const t0 = performance.now();
  const res = await sendPush(controller, { repo, ref: "refs/heads/main", sha: n.toString(16).padStart(40, "0") });
  const body = (await res.json()) as { jobs: unknown[] };
  const elapsed = performance.now() - t0;
  if (res.status !== 202 || body.jobs.length !== expected) throw new Error(`fan-out: ${res.status}, ${body.jobs.length} jobs`);
  return elapsed;
}

export async function benchFanout(controller: Controller): Promise<string> {
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status}`);
  await timePush(controller, "fan/many", 1, HOSTS); // warm-up: creates the 100 objects
  const one: number[] = [];
  const many: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    one.push(await timePush(controller, "fan/one", 1000 + i, 1));
    many.push(await timePush(controller, "fan/many", 2000 + i, HOSTS));
  }
  const a = summary(one);
  const b = summary(many);
  return [
    "## Webhook fan-out",
    "",
    `A signed push until its 202, with every job already queued in its host's Durable Object: mapped to 1 host and to ${HOSTS} hosts, ${RUNS} pushes each, alternating, served by ${controller.runtime}. Target: ratio ≤ 5.`,
    "",
    "| push mapped to | p50 | p90 | max |",
    "| --- | --- | --- | --- |",
    `| 1 host | ${ms(a.p50)} | ${ms(a.p90)} | ${ms(a.max)} |`,
    `| ${HOSTS} hosts | ${ms(b.p50)} | ${ms(b.p90)} | ${ms(b.max)} |`,
    "",
    `**Ratio ${HOSTS} hosts / 1 host at p50: ${(b.p50 / a.p50).toFixed(1)}**. Each further host costs ${((b.p50 - a.p50) / (HOSTS - 1)).toFixed(2)} ms; the 5x target allows ${((4 * a.p50) / (HOSTS - 1)).toFixed(2)} ms (see "The local runtime's floor under the fan-out").`,
    "",
  ].join("\n");
}
