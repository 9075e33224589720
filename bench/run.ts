// `npm run bench`: runs every benchmark against a fresh local controller and writes BENCHMARKS.md.
import { writeFileSync } from "node:fs";
import { startController } from "../test/e2e/controller.ts";
import { benchDispatch } from "./dispatch.ts";
import { machine } from "./lib.ts";

const controller = await startController();
const sections: string[] = [];
try {
  sections.push(await benchDispatch(controller));
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
