// Webhook fan-out: one signed push mapped to 100 hosts, time until the 202 (every job queued in its
// host's Durable Object before the answer), against the same kind of push mapped to 1 host.
//
// Two cases, in the same run:
// - at rest (the target): nothing of the pushed app is queued on its hosts, as when the last release
//   finished. Each timed push is to an app of its own (warmed up first, then left idle), so no push
//   replaces another's jobs.
// - superseding: back-to-back pushes of one app with no agent taking the jobs, so each push replaces
//   the previous push's queued job on every host (a cancel and a "superseded by" beside each enqueue).
import { api, sendPush, type Controller } from "../test/e2e/controller.ts";
import { ms, summary } from "./lib.ts";

const HOSTS = 100;
const RUNS = Number(process.env.BENCH_FANOUT_RUNS ?? 15);
/** Past the outboxes' 10 s safety-net alarms, so the warm-up's cancels have settled before anything is timed. */
const QUIET_MS = 12_000;
/** After each timed push: its history batch (D1, about 50 ms later) is written before the next push is timed. */
const SETTLE_MS = 300;

const hosts = Array.from({ length: HOSTS }, (_, i) => `fan-${i}`);
const app = (name: string, on: string[]) => `  ${name}: { repo: fan/${name}, branches: [main], hosts: [${on.join(", ")}], deploy: { image: "r/${name}:{sha}", container: ${name} } }`;
const runs = Array.from({ length: RUNS }, (_, k) => k);
const config = [
  "version: 1",
  "hosts:",
  ...hosts.map((h) => `  ${h}: { mode: agent }`),
  "apps:",
  app("one", hosts.slice(0, 1)),
  app("many", hosts),
  ...runs.flatMap((k) => [app(`one-${k}`, hosts.slice(0, 1)), app(`many-${k}`, hosts)]),
].join("\n");

let pushes = 0;
async function push(controller: Controller, name: string, expected: number): Promise<{ ms: number; rollout: string }> {
  const t0 = performance.now();
  const res = await sendPush(controller, { repo: `fan/${name}`, ref: "refs/heads/main", sha: (0x1000 + ++pushes).toString(16).padStart(40, "0") });
  const body = (await res.json()) as { jobs: unknown[]; rollouts: Array<{ id: string }> };
  const elapsed = performance.now() - t0;
  if (res.status !== 202 || body.jobs.length !== expected) throw new Error(`fan-out: ${res.status}, ${body.jobs.length} jobs`);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return { ms: elapsed, rollout: body.rollouts[0]!.id };
}

export async function benchFanout(controller: Controller): Promise<string> {
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status}`);
  // Warm-up: every app's object and the hosts' objects exist, and the JIT has seen the path; then
  // each warm-up rollout is cancelled, so nothing of these apps is queued, and the run waits for quiet.
  for (const name of ["one", "many", ...runs.flatMap((k) => [`one-${k}`, `many-${k}`])]) {
    const { rollout } = await push(controller, name, name.startsWith("one") ? 1 : HOSTS);
    const cancel = await api(controller, `/v1/rollouts/${rollout}/cancel`, { method: "POST" });
    if (cancel.status !== 200) throw new Error(`cancel: ${cancel.status}`);
  }
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));

  // Each app's object is asked something first (untimed), so a push never pays for an object the runtime
  // evicted while idle: the one-host and the hundred-host push would both carry that fixed cost.
  const touch = async (name: string) => {
    const res = await api(controller, `/v1/apps/${name}`);
    if (res.status !== 200) throw new Error(`GET /v1/apps/${name}: ${res.status}`);
    await res.arrayBuffer();
  };
  const rest = { one: [] as number[], many: [] as number[] };
  for (const k of runs) {
    await touch(`one-${k}`);
    rest.one.push((await push(controller, `one-${k}`, 1)).ms);
    await touch(`many-${k}`);
    rest.many.push((await push(controller, `many-${k}`, HOSTS)).ms);
  }
  await push(controller, "one", 1);
  await push(controller, "many", HOSTS);
  const superseding = { one: [] as number[], many: [] as number[] };
  for (const _ of runs) {
    superseding.one.push((await push(controller, "one", 1)).ms);
    superseding.many.push((await push(controller, "many", HOSTS)).ms);
  }

  const row = (label: string, times: number[]) => {
    const s = summary(times);
    return `| ${label} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.max)} |`;
  };
  const ratio = (c: typeof rest) => summary(c.many).p50 / summary(c.one).p50;
  const perHost = (c: typeof rest) => (summary(c.many).p50 - summary(c.one).p50) / (HOSTS - 1);
  const allowance = (summary(rest.one).p50 * 4) / (HOSTS - 1);
  return [
    "## Webhook fan-out",
    "",
    `A signed push until its 202, with every job already queued in its host's Durable Object: mapped to 1 host and to ${HOSTS} hosts, ${RUNS} pushes each, alternating, ${SETTLE_MS} ms apart (so a push's history batch to D1 is written before the next is timed), served by ${controller.runtime}. **At rest** (the target): nothing of the pushed app is queued on its hosts, as after its last release finished; each push is to an app of its own, warmed up and then left idle (its warm-up rollout cancelled, then ${QUIET_MS / 1000} s of quiet; just before its push the app's object answers an untimed \`GET /v1/apps/{name}\`). **Superseding**: back-to-back pushes of one app with no agent taking its jobs, so each push also cancels the previous push's queued job on every host. Target: ratio ≤ 5.`,
    "",
    "| push mapped to | p50 | p90 | max |",
    "| --- | --- | --- | --- |",
    row("1 host, at rest", rest.one),
    row(`${HOSTS} hosts, at rest`, rest.many),
    row("1 host, superseding", superseding.one),
    row(`${HOSTS} hosts, superseding`, superseding.many),
    "",
    `**Ratio ${HOSTS} hosts / 1 host at p50, at rest: ${ratio(rest).toFixed(1)}** (target ≤ 5: **${ratio(rest) <= 5 ? "met" : "not met"}**); superseding: ${ratio(superseding).toFixed(1)}. Each further host costs ${perHost(rest).toFixed(2)} ms at rest and ${perHost(superseding).toFixed(2)} ms superseding; the 5x target allows ${allowance.toFixed(2)} ms (see "The local runtime's floor under the fan-out").`,
    "",
  ].join("\n");
}
