import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./queries";
import { enrollTokens } from "./schema";


export type EnrollTokenRecord = typeof enrollTokens.$inferSelect;

export async function insertEnrollToken(db: Db, token: EnrollTokenRecord): Promise<void> {
  await db.insert(enrollTokens).values(token);
}

export async function getEnrollToken(db: Db, tokenHash: string): Promise<EnrollTokenRecord | null> {
  return (await db.select().from(enrollTokens).where(eq(enrollTokens.tokenHash, tokenHash)).get()) ?? null;
}

/** Spends a single-use token: true for exactly one caller, however many race for it. */
export async function consumeEnrollToken(db: Db, tokenHash: string, at: string): Promise<boolean> {
  const spent = await db
    .update(enrollTokens)
    .set({ usedAt: at })
    .where(and(eq(enrollTokens.tokenHash, tokenHash), isNull(enrollTokens.usedAt)))
    .returning({ tokenHash: enrollTokens.tokenHash });
  return spent.length === 1;
}
