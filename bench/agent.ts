// The .NET agent's figures (agent-dotnet/bench/measure.ts): idle memory and CPU while long-polling, and
// the time from hand-out to a healthy container against `docker pull` + `docker run` by hand.
import { spawnSync } from "node:child_process";

export function benchAgent(): string {
  const run = spawnSync(
    "node",
    ["agent-dotnet/bench/measure.ts", "--idle-seconds", process.env.BENCH_AGENT_IDLE_SECONDS ?? "60", "--runs", "5", "--json", ".test-out/agent-bench.json"],
    { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" },
  );
  if (run.status !== 0) throw new Error(`agent measure failed (${run.status}): ${run.stdout}`);
  const lines = run.stdout.trim().split("\n").filter((l) => l.includes(":"));
  return [
    "## The .NET agent",
    "",
    "The published (self-contained, trimmed) agent against a `wrangler dev` controller and the local Docker engine and registry; numbers are median (range). Targets: idle RSS ≤ 40 MB, idle CPU ≈ 0.",
    "",
    "| figure | value |",
    "| --- | --- |",
    ...lines.map((l) => {
      const at = l.indexOf(":");
      return `| ${l.slice(0, at).trim()} | ${l.slice(at + 1).trim()} |`;
    }),
    "",
  ].join("\n");
}
