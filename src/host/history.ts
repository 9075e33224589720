import { drizzle } from "drizzle-orm/d1";
import { insertLogLines, upsertJobSnapshots } from "../db/queries";
import type { JobSnapshot } from "../schemas/jobs";
import type { LogLine } from "./logs";

/** Where a host's job transitions end up: D1 in production, anything in a test. */
export interface HistoryWriter {
  write(snapshots: JobSnapshot[]): Promise<void>;
  writeLogs(lines: LogLine[]): Promise<void>;
}

/** Writes job snapshots to D1; newer versions win, so retries and reordering are harmless. */
export function d1HistoryWriter(db: D1Database): HistoryWriter {
  const orm = drizzle(db);
  return {
    async write(snapshots) {
      await upsertJobSnapshots(orm, snapshots);
    },
    async writeLogs(lines) {
      await insertLogLines(orm, lines);
    },
  };
}
