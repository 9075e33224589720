#!/usr/bin/env node
// `npm test`: every suite, one after another, then one closing line "N passed, N failed".
//   worker  vitest in workerd (test/, src/**/*.test.ts)
//   e2e     vitest in Node against real processes (test/e2e/: wrangler dev, the agent, dockerd, sshd)
//   relay   node --test of ssh-relay/ (against its own sshd and the Docker engine)
//   agent   dotnet test of agent-dotnet/ (unit, and integration against dockerd and the registry)
//   faults  faults injected into real processes, and property-based fuzzing; writes RELIABILITY.md
// `npm test -- worker` (or e2e, agent) runs just those. First the services those suites need (Docker and
// the registry, sshd, Chromium) are checked: as root, missing ones are installed and started by the
// idempotent scripts/services/*.sh; otherwise it stops at once and prints the one command to run.
// A suite whose service is missing fails, it never skips.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { writeReliability } from "./reliability.mjs";
import { ensureServices, SUITE_SERVICES } from "./services.mjs";

// The suites, in the order they run, are those services.mjs knows the needs of.
const chosen = process.argv.slice(2).filter((a) => a in SUITE_SERVICES);
const names = chosen.length ? chosen : Object.keys(SUITE_SERVICES);
const problem = await ensureServices(names);
if (problem) {
  console.error(`npm test: ${problem}`);
  process.exit(1);
}
const out = ".test-out";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const suites = {
  worker: () => vitest([], `${out}/worker.json`),
  e2e: () => vitest(["--config", "vitest.e2e.config.ts"], `${out}/e2e.json`),
  relay: () => nodeTest(),
  agent: () => dotnet(`${out}/agent.trx`),
  faults: () => {
    const result = vitest(["--config", "vitest.faults.config.ts"], `${out}/faults.json`);
    if (writeReliability(`${out}/faults`)) console.log("wrote RELIABILITY.md");
    return result;
  },
};

function vitest(args, report) {
  const run = spawnSync("vitest", ["run", ...args, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`], { stdio: "inherit" });
  if (!existsSync(report)) return { passed: 0, failed: 1, skipped: 0, ok: false };
  const r = JSON.parse(readFileSync(report, "utf8"));
  return { passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests, ok: run.status === 0 };
}

function nodeTest() {
  // node's test runner: its spec reporter ends with "ℹ pass N", "ℹ fail N", "ℹ skipped N".
  const run = spawnSync("npm", ["test", "--prefix", "ssh-relay"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(run.stdout ?? "");
  process.stderr.write(run.stderr ?? "");
  const count = (name) => Number(new RegExp(`ℹ ${name} (\\d+)`).exec(run.stdout ?? "")?.[1] ?? 0);
  return { passed: count("pass"), failed: count("fail") + count("cancelled"), skipped: count("skipped") + count("todo"), ok: run.status === 0 };
}

function dotnet(report) {
  const run = spawnSync("dotnet", ["test", "agent-dotnet/DeployBot.Agent.sln", "-m:1", "--logger", `trx;LogFileName=${process.cwd()}/${report}`], { stdio: "inherit" });
  if (!existsSync(report)) return { passed: 0, failed: 1, skipped: 0, ok: false };
  const counters = /<Counters [^>]*>/.exec(readFileSync(report, "utf8"))?.[0] ?? "";
  const count = (name) => Number(new RegExp(`${name}="(\\d+)"`).exec(counters)?.[1] ?? 0);
  return { passed: count("passed"), failed: count("failed") + count("error"), skipped: count("notExecuted"), ok: run.status === 0 };
}

const totals = { passed: 0, failed: 0, skipped: 0 };
let ok = true;
for (const name of names) {
  console.log(`\n=== ${name} ===`);
  const result = suites[name]();
  console.log(`=== ${name}: ${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ""}`);
  totals.passed += result.passed;
  totals.failed += result.failed;
  totals.skipped += result.skipped;
  ok &&= result.ok && result.failed === 0;
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`);
process.exit(ok && totals.passed > 0 ? 0 : 1);
