import { StringDecoder } from "node:string_decoder";
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { killProcessGroup, PGID_MARKER, withPgidReport } from "./commands.ts";
import { RelayError } from "./errors.ts";
import { fingerprint, hostKeyAlgorithms, keyType, parsePublicKeyLine } from "./host-key.ts";
import { silentLogger, type Logger } from "./log.ts";
import { Reachability, type ReachabilityInfo, type ReachabilityOptions } from "./reachability.ts";
import { shellQuote } from "./quote.ts";

/** A target host as apps.yaml describes it (docs/ssh-relay-api.md, "The target"). */
export interface SshTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  host_key: string;
}

export interface SshPoolOptions {
  /** PEM or OpenSSH private key text; null when none is configured (every call then fails with auth_failed). */
  privateKey: string | null;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Bound on TCP connect + handshake + authentication. */
  readyTimeoutMs?: number;
  /** A connection with no command for this long is closed. */
  idleTimeoutMs?: number;
  logger?: Logger;
  /** How often a target with no open connection is checked again when asked about (reach()). */
  reachability?: ReachabilityOptions;
}

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

export interface PoolEntryInfo {
  name: string;
  address: string;
  port: number;
  user: string;
  connected: boolean;
  since: string | null;
  /** Times this target was connected since the relay started (1 = never reconnected). */
  connects: number;
  active_commands: number;
}

interface Entry {
  key: string;
  target: SshTarget;
  client: Client;
  ready: Promise<Client>;
  connected: boolean;
  since: Date | null;
  active: number;
  lastUsed: number;
}

// ssh2 is CommonJS: its classes come through the default export.
const { Client: SshClient, utils } = ssh2;

/** How much stderr may come before the process-group marker (login noise) before the relay stops looking. */
const MARKER_SCAN_BYTES = 8192;

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15, USR1: 10, USR2: 12 };

/**
 * One SSH connection per target, keyed by name, address, port, user and host
 * key (a changed pin is a different target). Connections are opened on first
 * use, kept alive with SSH keep-alives, dropped from the pool as soon as they
 * close, and so reopened by the next command. Every command runs on its own
 * channel with a timeout and an output cap.
 */
export class SshPool {
  readonly #privateKey: string | null;
  readonly #keepaliveIntervalMs: number;
  readonly #keepaliveCountMax: number;
  readonly #readyTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #connects = new Map<string, number>();
  readonly #reaper: NodeJS.Timeout;
  readonly #reachability: Reachability;

  constructor({
    privateKey,
    keepaliveIntervalMs = 15_000,
    keepaliveCountMax = 3,
    readyTimeoutMs = 20_000,
    idleTimeoutMs = 15 * 60_000,
    logger = silentLogger,
    reachability = {},
  }: SshPoolOptions) {
    if (privateKey !== null) {
      const parsed = utils.parseKey(privateKey);
      // The parser's message is about the format, never the key's content.
      if (parsed instanceof Error) throw new TypeError(`SSH_PRIVATE_KEY could not be parsed: ${parsed.message}`);
    }
    this.#privateKey = privateKey;
    this.#keepaliveIntervalMs = keepaliveIntervalMs;
    this.#keepaliveCountMax = keepaliveCountMax;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#logger = logger;
    this.#reachability = new Reachability(reachability);
    this.#reaper = setInterval(() => this.#reapIdle(), Math.min(60_000, idleTimeoutMs)).unref();
  }

  /** What /health shows (with auth): one row per pooled target. */
  info(): PoolEntryInfo[] {
    return [...this.#entries.values()].map((entry) => ({
      name: entry.target.name,
      address: entry.target.address,
      port: entry.target.port,
      user: entry.target.user,
      connected: entry.connected,
      since: entry.since?.toISOString() ?? null,
      connects: this.#connects.get(entry.key) ?? 0,
      active_commands: entry.active,
    }));
  }

  /**
   * What the pool knows about reaching each target (the Worker's host listing shows it). A target with no
   * open connection that was never tried, or last tried a while ago, gets a connection attempt in the
   * background, so that a later answer knows more; this answer never waits for it.
   */
  reach(targets: SshTarget[]): ReachabilityInfo[] {
    return targets.map((target) => {
      const key = poolKey(target);
      if (!this.#entries.has(key) && this.#reachability.due(key)) this.connection(target).catch(() => undefined);
      return this.#reachability.info(key, target.name);
    });
  }

  /** The open connection to TARGET, opening one when there is none. */
  async connection(target: SshTarget): Promise<Client> {
    const key = poolKey(target);
    const existing = this.#entries.get(key);
    if (existing) return existing.ready;
    try {
      return this.#open(key, target).ready;
    } catch (err) {
      // Refused before any network I/O (no key, a bad host_key pin): as unreachable as a refused login.
      if (err instanceof RelayError) this.#reachability.failed(key, err);
      throw err;
    }
  }

  /**
   * Runs COMMAND (a shell command line) on TARGET. Resolves with the exit
   * status; rejects with a RelayError: `timeout` (killed after timeoutMs),
   * `cancelled` (signal aborted, killed), a connection code, or `ssh_error`.
   */
  async exec(target: SshTarget, command: string, options: ExecOptions): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
      if (options.signal?.aborted) throw new RelayError("cancelled", "the command was cancelled");
      const client = await this.connection(target);
      const entry = this.#entries.get(poolKey(target));
      let opened: OpenedExec;
      try {
        opened = await openExec(client, withPgidReport(command));
      } catch (err) {
        // The server refused the channel (it carries a `reason`): the
        // connection is fine, say so. Otherwise the connection died under us
        // (sshd restarted, network gone) before the command started, so it
        // is safe to reconnect and try once more.
        if ((err as { reason?: unknown }).reason !== undefined) {
          throw new RelayError("ssh_error", `the target refused a session: ${(err as Error).message}`);
        }
        this.#drop(target, client);
        if (attempt === 1) {
          this.#logger.info("ssh connection was dead, reconnecting", { target: target.name });
          continue;
        }
        throw new RelayError("ssh_error", `could not open a session: ${(err as Error).message}`);
      }
      if (entry) {
        entry.active++;
        entry.lastUsed = Date.now();
      }
      try {
        return await runChannel(opened, options, (pgid) => this.#killGroup(client, target, pgid));
      } finally {
        if (entry) {
          entry.active--;
          entry.lastUsed = Date.now();
        }
      }
    }
  }

  /** Closes every connection (shutdown, tests). */
  close(): void {
    clearInterval(this.#reaper);
    for (const entry of this.#entries.values()) entry.client.end();
    this.#entries.clear();
  }

  #open(key: string, target: SshTarget): Entry {
    if (this.#privateKey === null) {
      throw new RelayError("auth_failed", "the relay has no SSH_PRIVATE_KEY to authenticate with");
    }
    let pinned;
    try {
      pinned = parsePublicKeyLine(target.host_key);
    } catch (err) {
      throw new RelayError("invalid_request", `target.host_key: ${(err as Error).message}`);
    }
    const client = new SshClient();
    let mismatch: string | null = null;
    const where = `${target.name} (${target.address}:${target.port})`;
    const entry: Entry = {
      key,
      target,
      client,
      ready: Promise.resolve(client),
      connected: false,
      since: null,
      active: 0,
      lastUsed: Date.now(),
    };
    entry.ready = new Promise<Client>((resolve, reject) => {
      let settled = false;
      const fail = (error: RelayError) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        if (settled) return;
        settled = true;
        this.#logger.warn("ssh connect failed", { target: target.name, code: error.code, error: error.message });
        this.#reachability.failed(key, error);
        reject(error);
      };
      client.once("ready", () => {
        settled = true;
        // Commands are a few small packets each way: without this, Nagle's algorithm and delayed ACKs
        // add ~40 ms per round trip, over 100 ms to a pooled `true`.
        client.setNoDelay(true);
        entry.connected = true;
        entry.since = new Date();
        this.#connects.set(key, (this.#connects.get(key) ?? 0) + 1);
        this.#reachability.connected(key);
        this.#logger.info("ssh connected", { target: target.name, address: target.address, port: target.port, user: target.user });
        resolve(client);
      });
      client.on("error", (err: Error & { level?: string }) => {
        if (settled) {
          this.#logger.warn("ssh connection error", { target: target.name, error: err.message, ssh_level: err.level });
          // A keep-alive timeout or a reset: the host stopped answering on a connection that worked.
          this.#reachability.failed(key, new RelayError("connect_failed", `the connection to ${where} was lost: ${err.message}`));
          return;
        }
        fail(classify(err, mismatch, target, where, pinned.type));
      });
      client.once("close", () => {
        const wasConnected = entry.connected;
        entry.connected = false;
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        if (wasConnected) this.#logger.info("ssh connection closed", { target: target.name });
        fail(new RelayError("connect_failed", `the connection to ${where} closed during the handshake`));
      });
    });
    // The entry's promise is awaited by every caller; this keeps an
    // unobserved rejection from crashing the process.
    entry.ready.catch(() => undefined);
    this.#entries.set(key, entry);

    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      privateKey: this.#privateKey,
      // Only the pinned key's algorithms are offered, so a host with several
      // keys shows the pinned type; the blob must then match byte for byte.
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned) as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] },
      hostVerifier: (offered: Buffer) => {
        if (offered.equals(pinned.blob)) return true;
        mismatch =
          `host key mismatch for ${where}: expected ${pinned.type} ${fingerprint(pinned.blob)}, ` +
          `offered ${keyType(offered) ?? "unknown"} ${fingerprint(offered)}`;
        return false;
      },
      keepaliveInterval: this.#keepaliveIntervalMs,
      keepaliveCountMax: this.#keepaliveCountMax,
      readyTimeout: this.#readyTimeoutMs,
    };
    try {
      client.connect(config);
    } catch (err) {
      this.#entries.delete(key);
      throw new RelayError("connect_failed", `could not connect to ${where}: ${(err as Error).message}`);
    }
    return entry;
  }

  /** Best effort: `kill -s KILL -- -PGID` on a channel of its own, bounded to 10 s. */
  #killGroup(client: Client, target: SshTarget, pgid: number): void {
    openExec(client, shellQuote(killProcessGroup(pgid))).then(
      ({ channel }) => {
        channel.end();
        channel.resume();
        channel.stderr.resume();
        const bound = setTimeout(() => channel.close(), 10_000).unref();
        channel.on("close", () => clearTimeout(bound));
      },
      (err: Error) => this.#logger.warn("could not kill a command", { target: target.name, error: err.message }),
    );
  }

  #drop(target: SshTarget, client: Client): void {
    const key = poolKey(target);
    const entry = this.#entries.get(key);
    if (entry?.client === client) this.#entries.delete(key);
    client.end();
  }

  #reapIdle(): void {
    const now = Date.now();
    for (const entry of this.#entries.values()) {
      if (entry.connected && entry.active === 0 && now - entry.lastUsed > this.#idleTimeoutMs) {
        this.#logger.info("closing idle ssh connection", { target: entry.target.name });
        this.#drop(entry.target, entry.client);
      }
    }
  }
}

function poolKey(target: SshTarget): string {
  return JSON.stringify([target.name, target.address, target.port, target.user, target.host_key.trim()]);
}

function classify(err: Error & { level?: string }, mismatch: string | null, target: SshTarget, where: string, pinnedType: string): RelayError {
  if (mismatch) return new RelayError("host_key_mismatch", mismatch);
  const message = err.message;
  if (err.level === "client-authentication") {
    return new RelayError("auth_failed", `authentication as ${target.user} on ${where} failed (publickey refused)`);
  }
  if (err.level === "handshake" && /host key/i.test(message)) {
    return new RelayError("host_key_mismatch", `host key mismatch for ${where}: expected ${pinnedType}, the host offers no ${pinnedType} key (${message})`);
  }
  if (err.level === "client-timeout") {
    return new RelayError("connect_failed", `timed out connecting to ${where}`);
  }
  if (err.level === "client-socket" || /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET/.test(message)) {
    return new RelayError("connect_failed", `could not connect to ${where}: ${message}`);
  }
  return new RelayError("ssh_error", `ssh error with ${where}: ${message}`);
}

/** How a command ended, as its channel's `exit` event said (null until it does). */
interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** An exec channel and its exit status, recorded from the moment it opened. */
interface OpenedExec {
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
function openExec(client: Client, command: string): Promise<OpenedExec> {
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

function runChannel({ channel, exit }: OpenedExec, options: ExecOptions, killGroup: (pgid: number) => void): Promise<ExecResult> {
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
