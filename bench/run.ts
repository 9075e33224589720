// `npm run bench`: runs every benchmark against a fresh local controller and writes BENCHMARKS.md.
import { writeFileSync } from "node:fs";
import { startController } from "../test/e2e/controller.ts";
import { benchDispatch } from "./dispatch.ts";
import { benchLogs } from "./logs.ts";
import { machine } from "./lib.ts";

const controller = await startController();
const sections: string[] = [];
try {
  // BENCH_ONLY=dispatch,logs picks some; all run by default.
  const only = process.env.BENCH_ONLY?.split(",");
  const want = (name: string) => !only || only.includes(name);
  if (want("dispatch")) sections.push(await benchDispatch(controller));
  if (want("logs")) sections.push(await benchLogs(controller));
} finally {
  await controller.dispose();
}

const report = [
  "# Benchmarks",
  "",
  `Measured ${new Date().toISOString()} by \`npm run bench\` (figures from one run; rerun to compare).`,
  "",
  machine(),
  "",
  ...sections,
].join("\n");
writeFileSync("BENCHMARKS.md", report);
console.log(report);
