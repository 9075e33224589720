/**
 * Many timers on one alarm. A Durable Object has a single alarm, so every
 * deadline (outbox retry, lease expiry, ...) is a row here and the alarm is
 * always armed for the earliest one. Alarms are delivered at least once, so
 * whatever runs a timer must be idempotent.
 */
export class Schedule {
  /** The alarm time this instance last set or read; undefined until first read (a new instance reads it once). */
  private armed: number | null | undefined;
  /** A timer was set, moved or cleared since the last rearm (a rolled-back change leaves it true: one read more). */
  private changed = true;

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Sets (or moves) the timer `kind`/`key` to fire at `dueAt` (ms since epoch). */
  set(kind: string, key: string, dueAt: number): void {
    this.changed = true;
    this.sql.exec(
      `INSERT INTO timers (kind, key, due_at) VALUES (?, ?, ?)
       ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at`,
      kind,
      key,
      dueAt,
    );
  }

  /** Sets the timer unless it is set already: an earlier deadline stands, and the alarm stays where it is. */
  ensure(kind: string, key: string, dueAt: number): void {
    this.changed = true;
    this.sql.exec("INSERT INTO timers (kind, key, due_at) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO NOTHING", kind, key, dueAt);
  }

  clear(kind: string, key: string): void {
    this.changed = true;
    this.sql.exec("DELETE FROM timers WHERE kind = ? AND key = ?", kind, key);
  }

  /** Timers due at or before `now`, earliest first. */
  due(now: number): Array<{ kind: string; key: string; due_at: number }> {
    return this.sql
      .exec<{ kind: string; key: string; due_at: number }>(
        "SELECT kind, key, due_at FROM timers WHERE due_at <= ? ORDER BY due_at",
        now,
      )
      .toArray();
  }

  /** Once an alarm ran, the runtime has cleared it: the next rearm must set it again. */
  alarmFired(): void {
    this.armed = null;
    this.changed = true;
  }

  /** Arms the object's alarm for the earliest timer, or removes it when there is none. */
  async rearm(): Promise<void> {
    // Runs after every unit of work; most change no timer, and the alarm already stands where it should.
    if (!this.changed && this.armed !== undefined) return;
    this.changed = false;
    const next = this.sql.exec<{ due: number | null }>("SELECT MIN(due_at) AS due FROM timers").one().due;
    // An overdue timer fires at once; the runtime refuses times <= 0.
    const at = next === null ? null : Math.max(next, 1);
    try {
      this.armed ??= await this.storage.getAlarm();
      if (this.armed === at) return;
      if (at === null) await this.storage.deleteAlarm();
      else await this.storage.setAlarm(at);
      this.armed = at;
    } catch (err) {
      this.changed = true;
      throw err;
    }
  }
}
