// What a deploy takes and what it answers, in the vocabulary of docs/deploy-steps.md that the .NET
// agent shares: the steps, the result line, the job's error text. Both ways of deploying (stop-then-start
// in deploy.ts, the cutover in cutover.ts) speak it.
import type { DeployRequest } from "./request.ts";
import type { Runner } from "./runner.ts";
import type { LogStream } from "./steps.ts";

export type { LogStream };

/** The steps of docs/deploy-steps.md, in order, shared with the .NET agent (test/fixtures/deploy-scenarios.json). */
export const DEPLOY_STEPS = ["validate", "pull", "proxy", "stop-previous", "start", "health", "switch", "drain", "remove-previous"] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

/** The last NDJSON line of a deploy (docs/ssh-relay-api.md). */
export interface DeployResult {
  status: "succeeded" | "failed" | "cancelled";
  step: DeployStep;
  error: string | null;
  rolled_back: boolean;
  /** A cutover failed before its switch: the previous release never stopped serving. */
  kept_serving?: boolean;
  /** Why the host could not be put back after a failure, if it could not. */
  rollback_error?: string;
}

/**
 * The job's `error` text for a deploy that did not succeed, in the format of
 * docs/deploy-steps.md that the .NET agent's DeployResult.Summary writes too:
 * `failed at health: <reason>; previous container restored`. Null on success.
 */
export function summarize(result: DeployResult): string | null {
  if (result.status === "succeeded") return null;
  const reason = result.error ?? (result.status === "cancelled" ? "the job was cancelled" : "unknown error");
  const suffix = result.rollback_error !== undefined ? `; rollback failed: ${result.rollback_error}`
    : result.kept_serving ? "; the previous release kept serving"
    : result.rolled_back ? "; previous container restored" : "";
  return `${result.status === "cancelled" ? "cancelled" : "failed"} at ${result.step}: ${reason}${suffix}`;
}

export interface DeployOptions {
  run: Runner;
  request: DeployRequest;
  log: (stream: LogStream, text: string) => void;
  /** Cancels the deploy: it stops at the next step (a pull or health wait at once) and rolls back. */
  signal: AbortSignal;
  pollIntervalMs?: number;
  pullTimeoutMs?: number;
  rollbackTimeoutMs?: number;
  /** Without a health URL the container must still run after this long. */
  settleMs?: number;
  /** `docker stop` grace before SIGKILL (the agent's 10 s). */
  stopGraceS?: number;
}
