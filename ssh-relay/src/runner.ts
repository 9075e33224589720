import type { Argv } from "./commands.ts";
import type { SshPool, SshTarget } from "./pool.ts";
import { shellQuote } from "./quote.ts";

export type Stream = "stdout" | "stderr";

export interface RunOptions {
  timeoutMs?: number;
  /** Aborting kills the command; the runner then throws a `cancelled` RelayError. */
  signal?: AbortSignal;
  /** Called with each complete output line (without its newline) as it arrives. */
  onLine?: (stream: Stream, text: string) => void;
  /** Written to the command's stdin, which then ends (without it, stdin is empty). */
  stdin?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** Runs an argv on the target; what deploy.ts and metrics.ts are written against. */
export type Runner = (argv: Argv, options?: RunOptions) => Promise<RunResult>;

export interface PoolRunnerOptions {
  pool: SshPool;
  target: SshTarget;
  defaultTimeoutMs?: number;
  /** Cap on what one internal command may print (docker output is small). */
  maxOutputBytes?: number;
}

/**
 * A Runner over the pool: every argv goes through shellQuote, the one place
 * where values become a command line, and runs with a timeout and an output
 * cap like any exec.
 */
export function createPoolRunner({ pool, target, defaultTimeoutMs = 60_000, maxOutputBytes = 1024 * 1024 }: PoolRunnerOptions): Runner {
  return async function run(argv, { timeoutMs = defaultTimeoutMs, signal, onLine, stdin } = {}) {
    const out = { stdout: "", stderr: "" };
    const pending = { stdout: "", stderr: "" };
    const sink = (stream: Stream) => (text: string) => {
      out[stream] += text;
      if (!onLine) return;
      pending[stream] += text;
      const lines = pending[stream].split(/\r?\n/);
      pending[stream] = lines.pop() ?? "";
      for (const line of lines) onLine(stream, line);
    };
    const result = await pool.exec(target, shellQuote(argv), {
      timeoutMs,
      maxOutputBytes,
      onStdout: sink("stdout"),
      onStderr: sink("stderr"),
      ...(signal ? { signal } : {}),
      ...(stdin !== undefined ? { stdin } : {}),
    });
    if (onLine) {
      for (const stream of ["stdout", "stderr"] as const) if (pending[stream]) onLine(stream, pending[stream]);
    }
    return { exitCode: result.exitCode, stdout: out.stdout, stderr: out.stderr, truncated: result.truncated };
  };
}
