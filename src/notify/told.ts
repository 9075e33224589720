/** The last transition told of a job or rollout: a notify_seen row. */
export type Told = { version: number; status: string };

/** A snapshot of a subject to record. Without `version`, the one after the last told (a rollout's changes have none). */
export type Transition = { subject: string; version?: number; status: string };

/** What recording a transition found: whether its status is news, and the status told before it. */
export type Recorded = { news: boolean; previous: string | null };

/**
 * What was told of each job and rollout (notify_seen). Snapshots come at least once and may come out
 * of order, so only a newer version with another status is news. Synchronous SQL only: the
 * Notifications room calls it inside the change's transaction.
 */
export class ToldLedger {
  constructor(private readonly sql: SqlStorage) {}

  /** The last status told of `subject`, if any. */
  status(subject: string): string | undefined {
    return this.read([subject]).get(subject)?.status;
  }

  /**
   * Records transitions in order (a wave's hundred answers at once): the rows are read in one
   * statement and what changed is written in one. Returns, for each, whether it is news.
   */
  record(transitions: Transition[]): Recorded[] {
    if (transitions.length === 0) return [];
    const told = this.read(transitions.map(({ subject }) => subject));
    const changed = new Set<string>();
    const recorded = transitions.map(({ subject, version, status }): Recorded => {
      const before = told.get(subject);
      const next = after(before, version ?? (before?.version ?? 0) + 1, status);
      if (next) {
        told.set(subject, next.row);
        changed.add(subject);
      }
      return { news: next?.news ?? false, previous: before?.status ?? null };
    });
    if (changed.size) {
      const rows = [...changed].map((subject) => [subject, told.get(subject)!.version, told.get(subject)!.status]);
      this.sql.exec(
        `INSERT INTO notify_seen (subject, version, status) SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]' FROM json_each(?) WHERE true
         ON CONFLICT (subject) DO UPDATE SET version = excluded.version, status = excluded.status`,
        JSON.stringify(rows),
      );
    }
    return recorded;
  }

  /** Forgets these subjects (gone from the object; history has them). */
  forget(subjects: string[]): void {
    this.sql.exec("DELETE FROM notify_seen WHERE subject IN (SELECT value FROM json_each(?))", JSON.stringify(subjects));
  }

  private read(subjects: string[]): Map<string, Told> {
    const rows = this.sql.exec<{ subject: string } & Told>("SELECT subject, version, status FROM notify_seen WHERE subject IN (SELECT value FROM json_each(?))", JSON.stringify(subjects));
    return new Map(rows.toArray().map(({ subject, version, status }) => [subject, { version, status }]));
  }
}

/**
 * What a snapshot of `version` and `status` makes of a subject's row: null when it is no newer (or
 * nothing changes), else the row to keep and whether its status is news (a newer version with the
 * same status only moves the version on).
 */
function after(told: Told | undefined, version: number, status: string): { row: Told; news: boolean } | null {
  if (told && (version <= told.version || status === told.status)) return version > told.version ? { row: { version, status: told.status }, news: false } : null;
  return { row: { version, status }, news: true };
}
