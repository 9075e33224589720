// Shared pieces of the benchmarks: percentiles, a scripted agent over plain fetch, the machine line.
import { cpus, totalmem } from "node:os";
import { execSync } from "node:child_process";
import { E2E_SECRETS, type Controller } from "../test/e2e/controller.ts";

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

export async function register(controller: Controller, hostname: string) {
  const res = await fetch(`${controller.url}/v1/agents/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${E2E_SECRETS.AGENT_ENROLL_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname, version: "bench" }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return (await res.json()) as { agent_id: string; token: string };
}

export async function agentCall(controller: Controller, token: string, path: string, body: unknown) {
  const res = await fetch(`${controller.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
