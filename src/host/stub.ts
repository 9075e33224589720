import type { Env } from "../env";

/** The Durable Object of one host: all of that host's queue, leases and heartbeats. */
export function hostQueue(env: Env, host: string) {
  return env.HOST_QUEUE.get(env.HOST_QUEUE.idFromName(host));
}
