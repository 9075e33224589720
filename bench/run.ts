// `npm run bench`: runs every benchmark and writes BENCHMARKS.md. BENCH_ONLY=dispatch,logs,... picks some.
import { mkdirSync, writeFileSync } from "node:fs";
import { startController } from "../test/e2e/controller.ts";
import { benchAgent } from "./agent.ts";
import { benchDispatch } from "./dispatch.ts";
import { benchFanout } from "./fanout.ts";
import { benchFleet } from "./fleet.ts";
import { machine } from "./lib.ts";
import { benchLogs } from "./logs.ts";
import { benchRelay } from "./relay.ts";
import { benchThroughput } from "./throughput.ts";

const only = process.env.BENCH_ONLY?.split(",");
const want = (name: string) => !only || only.includes(name);
mkdirSync(".test-out", { recursive: true });

const sections: string[] = [];
const controller = await startController();
try {
  if (want("dispatch")) sections.push(await benchDispatch(controller));
  if (want("throughput")) sections.push(await benchThroughput(controller));
  if (want("fanout")) sections.push(await benchFanout(controller));
  if (want("logs")) sections.push(await benchLogs(controller));
} finally {
  await controller.dispose();
}
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

const report = [
  "# Benchmarks",
  "",
  `Measured ${new Date().toISOString()} by \`npm run bench\`, all on one machine in one run; figures are distributions and ratios measured side by side, never single wall times to compare across machines.`,
  "",
  machine(),
  "",
  ...sections,
].join("\n");
writeFileSync("BENCHMARKS.md", report);
console.log(report);
process.exit(0); // held long polls of the fleet's agents would keep the process alive
