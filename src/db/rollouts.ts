import { and, desc, eq, lt, or, sql, type SQL } from "drizzle-orm";
import type { Rollout, RolloutStatus } from "../schemas/rollouts";
import type { Db } from "./queries";
import { decodeCursor, encodeCursor } from "./queries";
import { rollouts } from "./schema";

export type RolloutSnapshot = Rollout & { version: number };

/** The statement that inserts or updates one rollout snapshot; a snapshot replaces only a lower version. */
export function upsertRolloutSnapshot(db: Db, s: RolloutSnapshot) {
  const row = { id: s.id, app: s.app, ref: s.ref, sha: s.sha, status: s.status, trigger: s.trigger, created_at: s.created_at, finished_at: s.finished_at, snapshot: JSON.stringify(s), version: s.version };
  const { id: _id, ...rest } = row;
  return db.insert(rollouts).values(row).onConflictDoUpdate({ target: rollouts.id, set: rest, setWhere: sql`excluded.version > ${rollouts.version}` });
}

export interface ListRolloutsFilter {
  app?: string | undefined;
  status?: RolloutStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Newest first, keyset-paginated on (created_at, id), like the job listing. */
export async function listRollouts(db: Db, filter: ListRolloutsFilter): Promise<{ rollouts: Rollout[]; next_cursor: string | null }> {
  const conditions: SQL[] = [];
  if (filter.app) conditions.push(eq(rollouts.app, filter.app));
  if (filter.status) conditions.push(eq(rollouts.status, filter.status));
  const position = filter.cursor ? decodeCursor(filter.cursor) : null;
  if (position) {
    const [createdAt, id] = position;
    conditions.push(or(lt(rollouts.created_at, createdAt), and(eq(rollouts.created_at, createdAt), lt(rollouts.id, id)))!);
  }
  const rows = await db
    .select({ snapshot: rollouts.snapshot })
    .from(rollouts)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(rollouts.created_at), desc(rollouts.id))
    .limit(filter.limit + 1)
    .all();
  const page = rows.slice(0, filter.limit).map((r) => JSON.parse(r.snapshot) as Rollout);
  const last = page.at(-1);
  return { rollouts: page, next_cursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
}

export async function getRollout(db: Db, id: string): Promise<Rollout | null> {
  const row = await db.select({ snapshot: rollouts.snapshot }).from(rollouts).where(eq(rollouts.id, id)).get();
  return row ? (JSON.parse(row.snapshot) as Rollout) : null;
}
