// Shared pieces of the benchmarks: percentiles, a scripted agent over plain fetch, the machine line.
import { cpus, totalmem } from "node:os";
import { execSync } from "node:child_process";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, mean };
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;

export function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const version = (cmd: string) => {
    try {
      return execSync(cmd, { stdio: ["ignore", "pipe", "ignore"] }).toString().trim().split("\n")[0];
    } catch {
      return "n/a";
    }
  };
  return [
    `- machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- node ${process.version}, ${version("npx wrangler --version")} (wrangler), workerd ${version("npx workerd --version")}`,
    `- dotnet ${version("dotnet --version")}`,
  ].join("\n");
}

