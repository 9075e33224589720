import { drizzle } from "drizzle-orm/d1";
import { getJob } from "../db/queries";
import type { Env } from "../env";
import { hostOfJobId, type Job } from "../schemas/jobs";

/** Hosts' object ids, per isolate: an id is a hash of the name (a wave asks for a hundred of them at once). */
const hostIds = new Map<string, DurableObjectId>();
const HOST_IDS_KEPT = 10_000;

/** The Durable Object of one host: all of that host's queue, leases and heartbeats. */
export function hostQueue(env: Env, host: string) {
  // A fresh stub each time: a Worker's stub belongs to its request. (Durable Objects keep theirs in a
  // StubCache, which drops one whose call threw.) The id, which never changes, is kept.
  let id = hostIds.get(host);
  if (!id) {
    if (hostIds.size >= HOST_IDS_KEPT) hostIds.clear();
    id = env.HOST_QUEUE.idFromName(host);
    hostIds.set(host, id);
  }
  return env.HOST_QUEUE.get(id);
}

/**
 * A job wherever it is: its host's object when the id names the host (the object keeps every
 * active job and the newest finished ones, and needs no D1), else D1's history (jobs the object
 * has pruned, and ids from before ids named their host). `live`: the object has it.
 */
export async function findJob(env: Env, id: string): Promise<{ job: Job; live: boolean } | null> {
  const host = hostOfJobId(id);
  const live = host ? await hostQueue(env, host).getJob(id) : null;
  if (live) return { job: live, live: true };
  const stored = await getJob(drizzle(env.DB), id);
  if (!stored) return null;
  if (host) return { job: stored, live: false };
  // An old id: D1 names its host, whose object may still hold it (and newer than D1).
  const fresh = await hostQueue(env, stored.host).getJob(id);
  return fresh ? { job: fresh, live: true } : { job: stored, live: false };
}
