import type { RelayError } from "./errors.ts";

/** What the relay knows about reaching one target (docs/ssh-relay-api.md, "POST /v1/reachability"). */
export interface ReachabilityInfo {
  name: string;
  /** true: the last connection attempt succeeded; false: it failed; null: never tried (a check is under way). */
  reachable: boolean | null;
  /** When the pool last completed an SSH handshake and login with the target. */
  last_connected_at: string | null;
  /** When the current run of failed attempts began (null while reachable). */
  unreachable_since: string | null;
  /** The last attempt's failure (code and message, as a job would report it); null while reachable. */
  error: { code: string; message: string } | null;
}

interface Record {
  reachable: boolean;
  lastConnectedAt: Date | null;
  unreachableSince: Date | null;
  error: { code: string; message: string } | null;
  /** When the last attempt ended. */
  checkedAt: number;
}

export interface ReachabilityOptions {
  /** A target with no open connection is tried again when asked about, at most this often. */
  recheckMs?: number;
  now?: () => number;
}

/**
 * The pool's bookkeeping of connection attempts, by pool key (a changed address or host key is a different
 * target, with no history). Every handshake the pool completes or fails is recorded here, whatever caused it:
 * a job, an exec, or a check asked for by the Worker's host listing.
 */
export class Reachability {
  readonly #records = new Map<string, Record>();
  readonly #recheckMs: number;
  readonly #now: () => number;

  constructor({ recheckMs = 30_000, now = Date.now }: ReachabilityOptions = {}) {
    this.#recheckMs = recheckMs;
    this.#now = now;
  }

  connected(key: string): void {
    const now = this.#now();
    this.#records.set(key, { reachable: true, lastConnectedAt: new Date(now), unreachableSince: null, error: null, checkedAt: now });
  }

  failed(key: string, error: RelayError): void {
    const now = this.#now();
    const previous = this.#records.get(key);
    this.#records.set(key, {
      reachable: false,
      lastConnectedAt: previous?.lastConnectedAt ?? null,
      // A run of failures is dated from its first.
      unreachableSince: previous && !previous.reachable ? previous.unreachableSince : new Date(now),
      error: { code: error.code, message: error.message },
      checkedAt: now,
    });
  }

  /** Whether a target with no open connection is worth an attempt now: never tried, or last tried recheckMs ago. */
  due(key: string): boolean {
    const record = this.#records.get(key);
    return !record || this.#now() - record.checkedAt >= this.#recheckMs;
  }

  info(key: string, name: string): ReachabilityInfo {
    const record = this.#records.get(key);
    if (!record) return { name, reachable: null, last_connected_at: null, unreachable_since: null, error: null };
    return {
      name,
      reachable: record.reachable,
      last_connected_at: record.lastConnectedAt?.toISOString() ?? null,
      unreachable_since: record.unreachableSince?.toISOString() ?? null,
      error: record.error,
    };
  }
}
