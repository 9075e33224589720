// `npm run bench`: runs every benchmark and writes BENCHMARKS.md. BENCH_ONLY=dispatch,logs,... picks some.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { startController } from "../test/e2e/controller.ts";
import { benchAgent } from "./agent.ts";
import { benchCutover } from "./cutover.ts";
import { benchDispatch } from "./dispatch.ts";
import { benchFanout } from "./fanout.ts";
import { benchFleet } from "./fleet.ts";
import { benchFloor } from "./floor.ts";
import { machine } from "./lib.ts";
import { benchLogs } from "./logs.ts";
import { benchRelay } from "./relay.ts";
import { benchRollout } from "./rollout.ts";
import { benchThroughput } from "./throughput.ts";

const only = process.env.BENCH_ONLY?.split(",");
const want = (name: string) => !only || only.includes(name);
mkdirSync(".test-out", { recursive: true });

const sections: string[] = [];
// BENCH_RUNTIME=wrangler-dev runs these on the dev server instead of the production bundle under workerd;
// BENCH_V8_FLAGS gives workerd V8 flags (npm start's are in scripts/local-worker.mjs, WORKERD_V8_FLAGS).
const runtime = process.env.BENCH_RUNTIME === "wrangler-dev" ? "wrangler-dev" : "workerd";
const controller = await startController({ runtime, v8Flags: process.env.BENCH_V8_FLAGS ?? "" });
try {
  if (want("dispatch")) sections.push(await benchDispatch(controller));
  if (want("throughput")) sections.push(await benchThroughput(controller));
  if (want("fanout")) sections.push(await benchFanout(controller));
  if (want("logs")) sections.push(await benchLogs(controller));
  if (want("rollout")) sections.push(await benchRollout(controller));
} finally {
  await controller.dispose();
}
// Beside the fan-out: what the runtime itself costs per Durable Object (a Worker of its own, the controller stopped).
if (want("fanout") || want("floor")) sections.push(await benchFloor());
// The fleet gets a controller of its own, so its memory figures start clean.
if (want("fleet")) {
  const fleet = await startController();
  try {
    sections.push(await benchFleet(fleet));
  } finally {
    await fleet.dispose();
  }
}
if (want("relay")) sections.push(await benchRelay());
if (want("agent")) sections.push(benchAgent());
if (want("cutover")) sections.push(await benchCutover());

const stamp = new Date().toISOString();
const header = (note = "") =>
  [
    "# Benchmarks",
    "",
    `Measured ${stamp} by \`npm run bench\`${note}, on one machine; every ratio compares figures measured side by side in the same run, never single wall times to compare across machines.`,
    "",
    machine(),
    "",
  ].join("\n");
// Sections this run does not write are kept from the file: a partial run's (BENCH_ONLY) other benches,
// and the sections written outside `npm run bench` (bench/soak.ts runs for over 30 minutes; the
// before-and-after comparisons of several checkouts; per-step traces). Each kept section says when it was measured.
const previous = existsSync("BENCHMARKS.md") ? readFileSync("BENCHMARKS.md", "utf8").split(/^(?=## )/m).slice(1) : [];
const title = (section: string) => section.split("\n", 1)[0];
const fresh = new Map(sections.map((section) => [title(section), section]));
const merged = previous.map((section) => fresh.get(title(section)) ?? section);
for (const section of sections) if (!previous.some((old) => title(old) === title(section))) merged.push(section);
const note = only ? ` (sections ${only.join(", ")} re-run then; the others from earlier runs)` : " (sections not written by it are kept from earlier runs)";
const report = header(note) + merged.map((section) => `${section.trimEnd()}\n\n`).join("");
writeFileSync("BENCHMARKS.md", report);
console.log(report);
process.exit(0); // held long polls of the fleet's agents would keep the process alive
