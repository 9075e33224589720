import { setTimeout as sleep } from "node:timers/promises";
import { commandExists, curlProbe, dockerFindContainer, dockerImageInspect, dockerLogs, dockerPull, wgetProbe, type Argv } from "./commands.ts";
import { RelayError } from "./errors.ts";
import type { Runner, RunOptions, RunResult } from "./runner.ts";

export type LogStream = "stdout" | "stderr" | "system";

/** Thrown at a checkpoint once the deploy's signal has fired. */
export class Cancelled extends Error {}

export interface StepsOptions {
  run: Runner;
  log: (stream: LogStream, text: string) => void;
  signal: AbortSignal;
  pollIntervalMs: number;
  pullTimeoutMs: number;
}

/**
 * The pieces both kinds of relay deploy share (stop-then-start in deploy.ts,
 * the cutover in cutover.ts): run-or-fail, find a container, pull, wait for
 * health, show a failed container's output. The .NET agent's DeploySteps.
 */
export function deploySteps({ run, log, signal, pollIntervalMs, pullTimeoutMs }: StepsOptions) {
  const checkpoint = () => {
    if (signal.aborted) throw new Cancelled("cancelled");
  };
  const passthrough = (stream: "stdout" | "stderr", text: string) => log(stream, text);

  /** Runs ARGV; a non-zero exit is a failure described by WHAT and the command's last stderr line. */
  async function must(argv: Argv, what: string, options: RunOptions = {}): Promise<RunResult> {
    const result = await run(argv, options);
    if (result.exitCode !== 0) throw new Error(`${what} failed (exit ${result.exitCode})${lastLine(result.stderr) ? `: ${lastLine(result.stderr)}` : ""}`);
    return result;
  }

  /** The container named exactly NAME (optionally with a label), or null. */
  async function find(container: string, label?: { key: string; value: string }): Promise<{ id: string; state: string } | null> {
    const result = await must(dockerFindContainer(container, label), `looking up container ${container}`);
    const [id, state = "unknown"] = (result.stdout.trim().split("\n")[0] ?? "").trim().split(/\s+/);
    return id ? { id, state } : null;
  }

  /** Always pulls (a tag may move); if the pull fails but the image is on the host, that copy is used. */
  async function pull(image: string): Promise<void> {
    checkpoint();
    log("system", `pulling ${image}`);
    const pulled = await run(dockerPull(image), { timeoutMs: pullTimeoutMs, signal, onLine: passthrough });
    if (pulled.exitCode !== 0) {
      const reason = lastLine(pulled.stderr) || `exit ${pulled.exitCode}`;
      const local = await run(dockerImageInspect(image), { signal });
      if (local.exitCode !== 0) throw new Error(`pulling ${image} failed: ${reason}`);
      log("stderr", `pulling ${image} failed (${reason}); using the copy already on the host`);
    }
  }

  async function mustBeRunning(name: string): Promise<void> {
    const state = await find(name);
    if (!state) throw new Error(`${name} disappeared`);
    if (state.state !== "running") throw new Error(`${name} is ${state.state}, not running`);
  }

  /** Polls URL with curl or wget on the target until a 2xx, the timeout, or container NAME stops; without a URL, waits SETTLEMS and checks it still runs. */
  async function waitHealthy(name: string, health: { url: string; timeoutMs: number } | null, settleMs: number): Promise<void> {
    if (!health) {
      log("system", `no health URL: checking that ${name} still runs after ${settleMs / 1000} s`);
      await sleep(settleMs, undefined, { signal }).catch(() => undefined);
      checkpoint();
      await mustBeRunning(name);
      return;
    }
    const tool = (await run(commandExists("curl"))).exitCode === 0 ? "curl" : (await run(commandExists("wget"))).exitCode === 0 ? "wget" : null;
    if (!tool) throw new Error("neither curl nor wget is installed on the target to check health");
    log("system", `waiting up to ${health.timeoutMs / 1000} s for ${health.url} to answer 2xx (${tool})`);
    const deadline = Date.now() + health.timeoutMs;
    let last = "";
    for (;;) {
      checkpoint();
      const remainingS = Math.max(1, Math.min(5, Math.ceil((deadline - Date.now()) / 1000)));
      const answer = await probe(tool, health.url, remainingS);
      if (answer.ok) {
        log("stdout", `healthy: ${answer.detail}`);
        return;
      }
      // Only the first of a run of identical answers is logged.
      if (answer.detail !== last) log("stdout", `not healthy yet: ${answer.detail}`);
      last = answer.detail;
      if (Date.now() >= deadline) {
        await mustBeRunning(name);
        throw new Error(`${health.url} did not answer 2xx within ${health.timeoutMs / 1000} s (last: ${answer.detail})`);
      }
      // The container's state is read during the pause, not after it: each command costs an SSH round trip.
      const pause = sleep(Math.min(pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, { signal }).then(() => undefined, () => {
        throw new Cancelled("cancelled");
      });
      await Promise.all([mustBeRunning(name), pause]);
    }
  }

  async function probe(tool: "curl" | "wget", url: string, timeoutS: number): Promise<{ ok: boolean; detail: string }> {
    const options = { timeoutMs: (timeoutS + 10) * 1000, signal };
    if (tool === "curl") {
      const result = await run(curlProbe(url, timeoutS), options);
      const code = result.stdout.trim();
      if (/^[1-5]\d\d$/.test(code)) return { ok: code.startsWith("2"), detail: `HTTP ${code}` };
      return { ok: false, detail: lastLine(result.stderr) || `curl exit ${result.exitCode}` };
    }
    const result = await run(wgetProbe(url, timeoutS), options);
    const statuses = [...result.stderr.matchAll(/HTTP\/[\d.]+ (\d{3})/g)].map((m) => m[1]);
    const status = statuses.at(-1);
    if (result.exitCode === 0) return { ok: true, detail: status ? `HTTP ${status}` : "HTTP 2xx" };
    return { ok: false, detail: status ? `HTTP ${status}` : lastLine(result.stderr) || `wget exit ${result.exitCode}` };
  }

  /** The last lines of container NAME, after a failed health check: only a diagnostic. */
  async function showOutput(name: string): Promise<void> {
    try {
      log("system", `last output of ${name}:`);
      await run(dockerLogs(name, 20), { timeoutMs: 15_000, onLine: passthrough });
    } catch {
      // only a diagnostic
    }
  }

  return { checkpoint, must, find, pull, waitHealthy, showOutput };
}

export function isCancel(err: unknown): boolean {
  return err instanceof Cancelled || (err instanceof RelayError && err.code === "cancelled");
}

export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

/** Runs WORK, but gives up after MS with the message TIMEOUT; returns null or what went wrong. */
export async function bounded(work: Promise<string | null>, ms: number, timeout: string): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(timeout), ms);
  });
  try {
    return await Promise.race([work.catch((err: Error) => err.message), bound]);
  } finally {
    clearTimeout(timer);
  }
}
