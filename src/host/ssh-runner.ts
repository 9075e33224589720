import type { DeploySpec } from "../config/apps";
import { iso, type Clock } from "./clock";
import { readNdjson, RelayError, relayFailure, type RelayClient, type SshTarget } from "../ssh/relay";
import type { IncomingLine } from "./logs";
import { GroupCommit } from "../util/group-commit";

/** The agent id the host object records for jobs it runs through the relay. */
export const RELAY_AGENT = "ssh-relay";

/** Relay failures that another attempt will not fix. */
const PERMANENT = new Set(["host_key_mismatch", "auth_failed"]);

export interface SshJob {
  id: string;
  attempt: number;
  app: string;
  sha: string;
  deploy: DeploySpec;
  target: SshTarget;
  lease_s: number;
}

/** What the runner tells the host object; each call is one transaction there. */
export interface SshJobHooks {
  logs(lines: IncomingLine[]): Promise<void>;
  renew(): Promise<void>;
  /** The deploy ran to an end (the relay's `result`). */
  done(status: "succeeded" | "failed", error: string | null): Promise<void>;
  /** The relay or the host could not be reached, or the stream broke: `retry` says whether another attempt may help. */
  lost(reason: string, retry: boolean): Promise<void>;
}

/**
 * Runs one ssh-mode job: `POST /v1/deploy` on the relay, its NDJSON log lines
 * into the job's log (numbered like an agent's), its `result` as the job's end.
 * Renews the job's lease every lease/3 while the relay works.
 */
export async function runSshJob(relay: RelayClient, job: SshJob, hooks: SshJobHooks, clock: Clock): Promise<void> {
  let seq = 0;
  let ended = false;
  let stopRenewal = () => {};
  const renewLater = () => {
    stopRenewal = clock.timer(Math.max(1000, (job.lease_s * 1000) / 3), () => {
      void hooks.renew().catch(() => undefined);
      renewLater();
    });
  };
  renewLater();
  try {
    const res = await relay.fetch("/v1/deploy", {
      target: job.target,
      job_id: job.id,
      attempt: job.attempt,
      app: job.app,
      sha: job.sha,
      deploy: job.deploy,
    });
    if (!res.ok || !res.body) throw await relayFailure(res);
    const log = logBatcher(hooks);
    await readNdjson(res.body, async (message) => {
      if (message.type === "log") {
        const stream = message.stream === "stderr" || message.stream === "system" ? message.stream : "stdout";
        // The relay's time of the line (as an agent's), so the log tells when a step happened on the host even when this
        // object is slow to take the lines in; the object's own time when the relay sent none.
        const ts = typeof message.ts === "string" && message.ts.length <= 64 && !Number.isNaN(Date.parse(message.ts)) ? message.ts : iso(clock.now());
        log.add({ seq: ++seq, ts, stream, text: String(message.text ?? "") });
      } else if (message.type === "result") {
        await log.written();
        ended = true;
        // The relay words the error as the agent does (docs/deploy-steps.md): "failed at health: …; previous container restored".
        const error = message.status === "succeeded" ? null : String(message.summary ?? `${String(message.status)} at ${String(message.step)}: ${String(message.error)}`);
        await hooks.done(message.status === "succeeded" ? "succeeded" : "failed", error);
      } else if (message.type === "error") {
        await log.written();
        ended = true;
        const code = String(message.code ?? "ssh_error");
        await hooks.lost(`${code}: ${String(message.message ?? "")}`, !PERMANENT.has(code));
      }
    });
    await log.written();
    if (!ended) await hooks.lost("relay_lost: the relay's stream ended before a result", true);
  } catch (err) {
    if (ended) return;
    const code = err instanceof RelayError ? err.code : "relay_lost";
    await hooks.lost(`${code}: ${(err as Error).message}`, !PERMANENT.has(code));
  } finally {
    stopRenewal();
  }
}

/**
 * Hands log lines to the host object without waiting for each: lines that arrive while it still takes earlier ones
 * go in together (a GroupCommit), one transaction for the lot, so a busy object falls behind by a batch, not by a
 * transaction per line. `written()` waits for every line so far, and throws the first failure; after it nothing more
 * is written (the job is then lost, as before).
 */
export function logBatcher(hooks: Pick<SshJobHooks, "logs">) {
  let failure: unknown = null;
  const batches = new GroupCommit<IncomingLine>(async (lines) => {
    if (failure !== null) throw failure;
    try {
      await hooks.logs(lines);
    } catch (err) {
      failure = err;
      throw err;
    }
  });
  // Batches run in order, so the newest line's promise settles after every earlier one.
  let last: Promise<void> = Promise.resolve();
  return {
    add(line: IncomingLine): void {
      if (failure !== null) throw failure;
      last = batches.add([line]);
      last.catch(() => undefined); // observed by written(); a failure also stops the next add
    },
    async written(): Promise<void> {
      await last;
      if (failure !== null) throw failure;
    },
  };
}

/** Tells the relay to stop a job's deploy. Never throws: the lease still ends the job if the relay cannot be told. */
export async function cancelOnRelay(relay: RelayClient, jobId: string): Promise<void> {
  try {
    const res = await relay.fetch(`/v1/deploy/${encodeURIComponent(jobId)}/cancel`, {});
    await res.body?.cancel();
  } catch {
    // as above
  }
}
