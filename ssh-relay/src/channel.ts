// One command on one SSH exec channel: its output streamed under a cap, its exit status, its
// timeout and cancel (the channel killed, and the command's process group over a second channel).
// The pool (pool.ts) owns the connections; this file owns what happens on a channel.
import { StringDecoder } from "node:string_decoder";
import type { Client, ClientChannel } from "ssh2";
import { PGID_MARKER } from "./commands.ts";
import { RelayError } from "./errors.ts";

export interface ExecOptions {
  timeoutMs: number;
  /** stdout and stderr together; output past it is dropped and `truncated` set. */
  maxOutputBytes: number;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Aborting kills the command (`cancelled`). */
  signal?: AbortSignal;
  /** Written to the command's stdin before it ends; without it, stdin ends at once. */
  stdin?: string;
}

export interface ExecResult {
  /** The exit status; 128 + n when the command died of signal n (as a shell reports it). */
  exitCode: number;
  /** The signal name without `SIG` when the command died of one. */
  signal: string | null;
  durationMs: number;
  truncated: boolean;
}

/** How much stderr may come before the process-group marker (login noise) before the relay stops looking. */
const MARKER_SCAN_BYTES = 8192;

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15, USR1: 10, USR2: 12 };

/** How a command ended, as its channel's `exit` event said (null until it does). */
interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** An exec channel and its exit status, recorded from the moment it opened. */
export interface OpenedExec {
  channel: ClientChannel;
  exit: ExitStatus;
}

/**
 * Opens an exec channel. The `exit` listener goes on inside ssh2's callback,
 * not after the promise resolves: a fast command's exit-status can arrive in
 * the same socket read as the channel's confirmation, and ssh2 emits `exit`
 * (a plain event, unlike the buffered output streams) before any awaiting code
 * runs, so a later listener would miss it.
 */
export function openExec(client: Client, command: string): Promise<OpenedExec> {
  return new Promise((resolve, reject) => {
    try {
      client.exec(command, (err, channel) => {
        if (err) return reject(err);
        const exit: ExitStatus = { code: null, signal: null };
        channel.on("exit", (code: number | null, signalName?: string) => {
          exit.code = code;
          exit.signal = signalName ? signalName.replace(/^SIG/, "") : null;
        });
        resolve({ channel, exit });
      });
    } catch (err) {
      reject(err);
    }
  });
}

/** Runs an opened channel to its end: resolves with the exit status, rejects with `timeout`, `cancelled` or `ssh_error`. */
export function runChannel({ channel, exit }: OpenedExec, options: ExecOptions, killGroup: (pgid: number) => void): Promise<ExecResult> {
  const { timeoutMs, maxOutputBytes, onStdout, onStderr, signal, stdin } = options;
  const started = performance.now();
  // stdin ends at once (after STDIN, if given), so a command that reads
  // stdin ends instead of waiting for the timeout.
  if (stdin === undefined) channel.end();
  else channel.end(stdin);
  return new Promise((resolve, reject) => {
    let used = 0;
    let truncated = false;
    let done = false;
    let pgid: number | null = null;
    // stderr is held back until the wrapper's first line (withPgidReport) is seen and stripped.
    let marker: Buffer | null = Buffer.alloc(0);
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const sinks = { stdout: onStdout, stderr: onStderr };
    const take = (stream: "stdout" | "stderr", chunk: Buffer) => {
      if (done) return;
      let slice = chunk;
      if (used + chunk.length > maxOutputBytes) {
        truncated = true;
        slice = chunk.subarray(0, Math.max(0, maxOutputBytes - used));
      }
      if (slice.length === 0) return;
      used += slice.length;
      const text = decoders[stream].write(slice);
      if (text) sinks[stream]?.(text);
    };
    // Lines before the marker (a login script's noise) pass through; the scan
    // gives up after MARKER_SCAN_BYTES so a missing marker costs nothing.
    let scanned = 0;
    const takeStderr = (chunk: Buffer) => {
      if (marker === null) return take("stderr", chunk);
      let held: Buffer = Buffer.concat([marker, chunk]);
      let newline: number;
      while ((newline = held.indexOf(0x0a)) >= 0) {
        const line = held.subarray(0, newline + 1);
        held = held.subarray(newline + 1);
        scanned += line.length;
        const text = line.toString("latin1");
        if (text.startsWith(PGID_MARKER)) {
          const id = Number(text.slice(PGID_MARKER.length).trim());
          if (Number.isInteger(id) && id > 1) pgid = id;
          marker = null;
          if (held.length > 0) take("stderr", held);
          return;
        }
        take("stderr", line);
      }
      if (scanned + held.length > MARKER_SCAN_BYTES) {
        marker = null;
        if (held.length > 0) take("stderr", held);
        return;
      }
      marker = held;
    };
    channel.on("data", (chunk: Buffer) => take("stdout", chunk));
    channel.stderr.on("data", takeStderr);

    const finish = (error: RelayError | null) => {
      if (done) return;
      if (!error && marker !== null && marker.length > 0) {
        const held = marker;
        marker = null;
        take("stderr", held);
      }
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error) {
        kill(channel);
        if (pgid !== null) killGroup(pgid);
        reject(error);
        return;
      }
      // A multi-byte character cut by the cap stays cut; otherwise flush.
      if (!truncated) {
        for (const stream of ["stdout", "stderr"] as const) {
          const rest = decoders[stream].end();
          if (rest) sinks[stream]?.(rest);
        }
      }
      const { code: exitCode, signal: exitSignal } = exit;
      if (exitCode === null && exitSignal === null) {
        reject(new RelayError("ssh_error", "the connection closed before the command exited"));
        return;
      }
      const durationMs = Math.round(performance.now() - started);
      const code = exitCode ?? 128 + (SIGNALS[exitSignal ?? ""] ?? 0);
      resolve({ exitCode: code, signal: exitSignal, durationMs, truncated });
    };
    const onAbort = () => finish(new RelayError("cancelled", "the command was cancelled"));
    const timer = setTimeout(
      () => finish(new RelayError("timeout", `the command was killed after ${formatSeconds(timeoutMs)} s`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    channel.on("close", () => finish(null));
  });
}

/**
 * Asks sshd to kill the command: OpenSSH answers a `signal` channel request
 * with killpg() on the session's process group, but only under privilege
 * separation (not for root logins); runChannel's caller also kills the group
 * over a second channel. Closing the channel frees it on both sides.
 */
function kill(channel: ClientChannel): void {
  try {
    // ssh2's Channel.signal() sends nothing once our side of the channel is
    // ended, and runChannel ends it at once (stdin EOF). The request is still
    // valid in SSH (RFC 4254 §6.9 only needs the channel open), so it goes
    // straight to the protocol object, the same call signal() makes.
    const internal = channel as unknown as {
      outgoing?: { id?: number; state?: string };
      _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
    };
    const protocol = internal._client?._protocol;
    if ((internal.outgoing?.state === "open" || internal.outgoing?.state === "eof") && typeof internal.outgoing.id === "number" && typeof protocol?.signal === "function") {
      protocol.signal(internal.outgoing.id, "KILL");
    } else {
      channel.signal("KILL");
    }
  } catch {
    // the channel may already be gone
  }
  try {
    channel.close();
  } catch {
    // idem
  }
}

function formatSeconds(ms: number): string {
  return Number.isInteger(ms / 1000) ? String(ms / 1000) : (ms / 1000).toFixed(1);
}
