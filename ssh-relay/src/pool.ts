import ssh2, { type Client, type ConnectConfig } from "ssh2";
import { openExec, runChannel, type ExecOptions, type ExecResult, type OpenedExec } from "./channel.ts";
import { killProcessGroup, withPgidReport } from "./commands.ts";
import { classifyConnectError, RelayError } from "./errors.ts";
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
        fail(classifyConnectError(err, mismatch, target.user, where, pinned.type));
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

