import type { Clock } from "./clock";
import type { LogLine, LogStore } from "./logs";
import type { Schedule } from "./schedule";

const BATCH = 50;
const LOG_BATCH = 500;
/** The log lines' retry timer and run, beside the sinks' (no sink has this name). */
const LOGS = "logs";
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;
/** A safety-net timer, set when something waits (and left until it fires), so an eviction mid-flush still delivers. */
const SAFETY_NET_MS = 10_000;

/** Where snapshots go. Deliveries are at least once and may repeat: a sink must take a repeat calmly (versions). */
export interface Sink<T> {
  /** Its place in the outbox (`outbox_cursors`): each sink is delivered to from its own cursor. */
  name: string;
  write(snapshots: T[]): Promise<void>;
}

/** Where a host's log lines go (D1), after the snapshots. */
export interface LogSink {
  writeLogs(lines: LogLine[]): Promise<void>;
}

/**
 * A host's log lines on their way to their sink: stored lines wait `everyMs`, plus up to `spreadMs`
 * drawn at random each time, so that they go together and the hosts of a wave, whose lines came at
 * the same moment, do not all write to D1 at the same moment again.
 */
export interface LogShipping {
  store: LogStore;
  sink: LogSink;
  everyMs: number;
  spreadMs: number;
}

/**
 * Snapshots on their way out of a Durable Object: a host's jobs to its app's object, an app's
 * rollouts and jobs to D1. Each snapshot is written to the outbox in the same synchronous SQL block
 * as the change itself, so it commits with it; `flush()` delivers in order to each sink from that
 * sink's own cursor, and a row is dropped only once every sink has it. A sink that fails is retried
 * by the alarm with exponential backoff, and never holds up the others. A host's log lines ride
 * along to their own sink (D1).
 */
export class Outbox<T> {
  private readonly flushing = new Map<string, Promise<void>>();
  /** Consecutive failed deliveries per sink, for the backoff (in memory: an evicted object starts again at 1 s). */
  private readonly failures = new Map<string, number>();
  /** The `now` the safety net was last set with. */
  private safetyNetAt: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly schedule: Schedule,
    private readonly clock: Clock,
    private readonly keyOf: (snapshot: T) => string,
    /** The sinks, by name. Public so a test can put a failing one in a live object (same name). */
    public sinks: Array<Sink<T>>,
    private readonly logs: LogShipping | null = null,
    /** Whether the sinks should have a snapshot at once (else it may wait for flushSoon's batch). */
    private readonly isUrgent: (snapshot: T) => boolean = () => true,
  ) {}

  /** A snapshot added since the last flush began wants delivering at once (see isUrgent). */
  private urgent = false;
  /** The batch flushSoon() has promised, while it waits: when it goes, and the latest it may go. */
  private soon: { done: Promise<void>; due: number; latest: number; go: () => void; cancel: () => void } | null = null;
  /** The log lines' batch flushSoon() has promised, while it waits (LogShipping.everyMs). */
  private logsSoon: Promise<void> | null = null;
  /** Inside answer(): snapshots added go to the sink in the object's answer, not through the outbox. */
  private answering = false;
  /** False only once a read found the outbox empty and nothing was added since (a rolled-back add leaves it true). */
  private maybePending = true;
  /** The last seq each sink confirmed, by name: its cursor, always at or past the stored one (see recordConfirmations). */
  private readonly confirmed = new Map<string, number>();
  /** The sinks whose confirmation is not written down yet. */
  private readonly unrecorded = new Set<string>();

  /**
   * Adds a snapshot. Call inside the same synchronous block as the change it records. It replaces
   * the key's snapshot still waiting (every sink keeps only the newest version of a key, so an older
   * one still on its way is worth nothing): the outbox holds at most one row per key, however long
   * a sink is down, and a burst of changes costs one delivery.
   */
  add(snapshot: T, now: number): void {
    this.addAll([snapshot], now);
  }

  /** Adds snapshots in order, as add() does each, in one statement (a wave's hundred jobs cost one). */
  addAll(snapshots: T[], now: number): void {
    if (snapshots.length === 0) return;
    if (this.answering) {
      for (const snapshot of snapshots) this.delivered(this.keyOf(snapshot));
      return;
    }
    // One row per key (a unique index): REPLACE drops the waiting one and appends this one at the end.
    this.maybePending = true;
    const rows = JSON.stringify(snapshots.map((snapshot) => [this.keyOf(snapshot), JSON.stringify(snapshot)]));
    this.sql.exec("INSERT OR REPLACE INTO outbox (job_id, snapshot) SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(?) ORDER BY key", rows);
    if (snapshots.some(this.isUrgent)) this.urgent = true;
    this.armSafetyNet(now);
  }

  /**
   * Runs `work` (inside the change's transaction) for the object's one sink, which takes every
   * snapshot `work` adds from the object's answer instead: none is stored, and one still waiting
   * for the same key is dropped (the answer carries a newer one). The caller must answer with all of them.
   */
  answer<R>(work: () => R): R {
    if (this.sinks.length !== 1) throw new Error("Outbox.answer needs an outbox with exactly one sink");
    this.answering = true;
    try {
      return work();
    } finally {
      this.answering = false;
    }
  }

  /**
   * After a unit of work: delivers to the sinks now if something urgent waits, else within `lazyMs`,
   * so that changes close together (a job handed out, then its agent's first reports) go as one
   * delivery, and a snapshot replaced meanwhile is never sent at all. With `latestMs`, each call
   * moves the batch on to `lazyMs` from now, up to `latestMs` after the call that started it: a
   * burst of changes goes as one batch once it is over. Log lines wait for their own, longer batch
   * (LogShipping.everyMs): D1 is their history (the object serves them live), so they go in few
   * writes, off the path of a job's end to its app. Resolves when those deliveries are done.
   */
  flushSoon(lazyMs: number, latestMs = lazyMs): Promise<void> {
    const runs = [this.batchSoon(lazyMs, latestMs)];
    // A batch already promised takes every line stored meanwhile: only without one is the store asked (a read).
    if (this.logs && (this.logsSoon || this.logs.store.hasUnshipped())) {
      this.logsSoon ??= this.after(this.logs.everyMs + Math.random() * this.logs.spreadMs).then(() => {
        this.logsSoon = null;
        return this.flushLogs();
      });
      runs.push(this.logsSoon);
    }
    if (this.urgent) runs.push(this.flushSinks());
    return Promise.all(runs).then(() => undefined);
  }

  private batchSoon(lazyMs: number, latestMs: number): Promise<void> {
    const now = this.clock.now();
    if (!this.soon) {
      let go!: () => void;
      const fired = new Promise<void>((resolve) => (go = resolve));
      const done = fired.then(() => {
        this.soon = null;
        return this.flushSinks();
      });
      this.soon = { done, due: Infinity, latest: now + latestMs, go, cancel: () => {} };
    }
    const soon = this.soon;
    const due = Math.min(now + lazyMs, soon.latest);
    if (due !== soon.due) {
      soon.cancel();
      soon.due = due;
      soon.cancel = this.clock.timer(due - now, soon.go);
    }
    return soon.done;
  }

  private after(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.clock.timer(ms, resolve));
  }

  /**
   * The object's sink already has the newest snapshot of `key`: the object answered it with that
   * snapshot, and the sink takes the answer as its delivery. Its row goes now, unsent. Only for an
   * outbox with one sink (another sink would still need the row). Call in the same synchronous block
   * as the change, so the row is still the snapshot the answer carries.
   */
  delivered(key: string): void {
    if (this.sinks.length !== 1) throw new Error("Outbox.delivered needs an outbox with exactly one sink");
    if (this.maybePending) this.sql.exec("DELETE FROM outbox WHERE job_id = ?", key); // an outbox known empty has no row to drop
  }

  /**
   * Call after log lines were stored, so they reach D1 even if the object is evicted before a flush.
   * The net is set once and left alone until its alarm (alarm()): moving it with every change would
   * move the object's alarm, a storage write, twice a change.
   */
  armSafetyNet(now: number): void {
    // A unit of work adding many snapshots asks once (they share their `now`).
    if (this.safetyNetAt === now) return;
    this.schedule.ensure("outbox", "", now + SAFETY_NET_MS);
    this.safetyNetAt = now;
  }

  /** The object's alarm fired: delivers what waits, and sets the safety net again while anything still does. */
  async alarm(): Promise<void> {
    if (this.hasWork()) await this.flush();
    if (this.hasWork()) this.schedule.set("outbox", "", this.clock.now() + SAFETY_NET_MS);
    else this.schedule.clear("outbox", "");
  }

  /**
   * Writes down what the sinks confirmed since the last unit of work: their cursors, and the end of
   * the rows every sink has. Call inside each unit's transaction, so that a confirmation rides in a
   * commit the object makes anyway and never costs one of its own: locally, that commit came between
   * a wave's jobs handed out and their answers leaving (BENCHMARKS.md, "Rollout wave hand-over").
   * Until then the confirmations are in memory; lost with the object, they mean a redelivery, which
   * every sink takes (it keeps the newest version of each key).
   */
  recordConfirmations(): void {
    if (this.unrecorded.size === 0) return;
    for (const sink of this.unrecorded) {
      this.sql.exec("INSERT INTO outbox_cursors (sink, seq) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq", sink, this.confirmed.get(sink)!);
    }
    this.unrecorded.clear();
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", this.everySinkHas());
  }

  /** Snapshots some sink does not have yet (log lines are counted by the log store). */
  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE seq > ?", this.everySinkHas()).one().n;
  }

  /** Runs after every unit of work: a read only when a snapshot may have been added since the last one found none. */
  hasWork(): boolean {
    if (this.maybePending) this.maybePending = this.pending() > 0;
    return this.maybePending || (this.logs?.store.hasUnshipped() ?? false);
  }

  /** Keys with snapshots some sink does not have yet (their rows must not be pruned). */
  pendingJobIds(): Set<string> {
    return new Set(this.sql.exec<{ job_id: string }>("SELECT DISTINCT job_id FROM outbox WHERE seq > ?", this.everySinkHas()).toArray().map((r) => r.job_id));
  }

  /** Delivers everything pending to every sink; concurrent callers share each sink's run. Never throws. */
  async flush(): Promise<void> {
    await Promise.all([this.flushSinks(), this.flushLogs()]);
  }

  private async flushLogs(): Promise<void> {
    const logs = this.logs;
    if (logs) await this.flushSink(LOGS, () => this.deliverLogs(logs.store, logs.sink));
  }

  private async flushSinks(): Promise<void> {
    this.urgent = false;
    await Promise.all(this.sinks.map((sink) => this.flushSink(sink.name, () => this.deliverAll(sink))));
  }

  private flushSink(name: string, deliver: () => Promise<void>): Promise<void> {
    let run = this.flushing.get(name);
    if (!run) {
      run = this.run(name, deliver).finally(() => this.flushing.delete(name));
      this.flushing.set(name, run);
    }
    return run;
  }

  private async run(name: string, deliver: () => Promise<void>): Promise<void> {
    try {
      await deliver();
      this.schedule.clear("outbox-retry", name);
      this.failures.delete(name);
    } catch (err) {
      const failures = this.failures.get(name) ?? 0;
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
      this.failures.set(name, failures + 1);
      this.schedule.set("outbox-retry", name, this.clock.now() + delay);
      // Log the first failure of a run only; the alarm keeps retrying quietly.
      if (failures === 0) {
        console.warn(JSON.stringify({ level: "warn", msg: "outbox delivery failed; will retry", sink: name, pending: this.pending(), retry_in_ms: delay, error: String(err) }));
      }
    }
  }

  private async deliverAll(sink: Sink<T>): Promise<void> {
    while (await this.deliver(sink));
  }

  /** Delivers one batch past the sink's cursor; false when it has everything. */
  private async deliver(sink: Sink<T>): Promise<boolean> {
    const rows = this.sql
      .exec<{ seq: number; snapshot: string }>("SELECT seq, snapshot FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", this.cursor(sink.name), BATCH)
      .toArray();
    if (rows.length === 0) return false;
    await sink.write(rows.map((r) => JSON.parse(r.snapshot) as T));
    // Written down with the next unit of work (recordConfirmations); a row goes once every sink has it.
    this.confirmed.set(sink.name, rows[rows.length - 1]!.seq);
    this.unrecorded.add(sink.name);
    return true;
  }

  private async deliverLogs(store: LogStore, sink: LogSink): Promise<void> {
    for (let lines = store.unshipped(LOG_BATCH); lines.length; lines = store.unshipped(LOG_BATCH)) {
      await sink.writeLogs(lines);
      store.markShipped(lines[lines.length - 1]!.pos);
    }
  }

  /** The last seq every sink has: rows up to it wait only to be deleted. */
  private everySinkHas(): number {
    return Math.min(...this.sinks.map((s) => this.cursor(s.name)));
  }

  /**
   * The last seq `sink` has: read once, then kept in memory. A sink new to an object starts where the
   * oldest row still kept starts.
   */
  private cursor(sink: string): number {
    const confirmed = this.confirmed.get(sink);
    if (confirmed !== undefined) return confirmed;
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM outbox_cursors WHERE sink = ?", sink).toArray()[0];
    if (row) {
      this.confirmed.set(sink, row.seq);
      return row.seq;
    }
    return (this.sql.exec<{ s: number | null }>("SELECT MIN(seq) AS s FROM outbox").one().s ?? 1) - 1;
  }
}
