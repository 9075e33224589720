import { iso, type Clock } from "./clock";
import type { Counters } from "./counters";

/** How long after its last heartbeat an agent still counts as online (longest long poll plus margin). */
export const ONLINE_WINDOW_MS = 75_000;
/**
 * How stale the stored last-heartbeat time may get. Heartbeats are the hottest path: writing each one
 * would cost a storage write per poll; an evicted object only loses up to this much precision.
 */
const HEARTBEAT_PERSIST_MS = 15_000;

/** A held long poll, answered by the object's wake() or by its timer. */
export interface Waiter<T> {
  agentId: string;
  runningJobId: string | null;
  generation: number;
  settle(result: T | null): void;
}

/**
 * Who is there: agents' heartbeats (in memory, written at most every HEARTBEAT_PERSIST_MS),
 * their held long polls, and the agents revoked on this host.
 */
export class Presence<T> {
  /** Long-polling heartbeats waiting for work. */
  private readonly waiters = new Set<Waiter<T>>();
  /** The newest heartbeat call of each agent (held polls of older calls are stale). */
  private readonly generations = new Map<string, number>();
  /** Last heartbeat of each agent; `persisted` is when it was last written to storage. */
  private readonly lastBeats = new Map<string, { at: number; persisted: number }>();
  /** Heartbeats counted since the counter was last written. */
  private unsavedHeartbeats = 0;
  /** The revoked_agents table, in memory: every agent call asks. */
  private readonly revoked: Set<string>;

  constructor(
    private readonly sql: SqlStorage,
    private readonly counters: Counters,
    private readonly clock: Clock,
  ) {
    this.revoked = new Set(sql.exec<{ agent_id: string }>("SELECT agent_id FROM revoked_agents").toArray().map((r) => r.agent_id));
  }

  isRevoked(agentId: string): boolean {
    return this.revoked.has(agentId);
  }

  /** Records a revocation (inside the caller's transaction). */
  revoke(agentId: string, now: number): void {
    this.sql.exec("INSERT INTO revoked_agents (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO NOTHING", agentId, now);
    this.revoked.add(agentId);
  }

  /** Notes a heartbeat: in memory always, in storage when the stored time is older than HEARTBEAT_PERSIST_MS. */
  record(agentId: string, now: number, count: boolean): void {
    if (count) this.unsavedHeartbeats++;
    const known = this.lastBeats.get(agentId);
    if (known && now - known.persisted < HEARTBEAT_PERSIST_MS) {
      known.at = now;
      return;
    }
    this.sql.exec("INSERT INTO heartbeats (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET at = excluded.at", agentId, now);
    if (this.unsavedHeartbeats) this.counters.bump("heartbeats_total", "", this.unsavedHeartbeats);
    this.unsavedHeartbeats = 0;
    this.lastBeats.set(agentId, { at: now, persisted: now });
  }

  /** Forgets an agent's heartbeats (restarted or revoked). */
  forget(agentId: string): void {
    this.sql.exec("DELETE FROM heartbeats WHERE agent_id = ?", agentId);
    this.lastBeats.delete(agentId);
  }

  heartbeatsTotal(): number {
    return this.counters.read("heartbeats_total") + this.unsavedHeartbeats;
  }

  /** The most recent heartbeat of any agent, and whether it is recent enough to count as online. */
  latest(): { agent_id: string | null; last_heartbeat_at: string | null; online: boolean } {
    const last = this.beats().sort((a, b) => b.at - a.at)[0];
    return {
      agent_id: last?.agent_id ?? null,
      last_heartbeat_at: last ? iso(last.at) : null,
      online: last !== undefined && this.clock.now() - last.at < ONLINE_WINDOW_MS,
    };
  }

  onlineCount(): number {
    const since = this.clock.now() - ONLINE_WINDOW_MS;
    return this.beats().filter((beat) => beat.at > since).length;
  }

  /** A new heartbeat call of `agentId`: supersedes the agent's polls still held. */
  newPoll(agentId: string): number {
    const generation = (this.generations.get(agentId) ?? 0) + 1;
    this.generations.set(agentId, generation);
    return generation;
  }

  isCurrent(agentId: string, generation: number): boolean {
    return this.generations.get(agentId) === generation;
  }

  /** Ends the agent's held polls without effect (it hung up, or was revoked). */
  abandon(agentId: string): void {
    this.newPoll(agentId);
    for (const waiter of [...this.waiters]) if (waiter.agentId === agentId) waiter.settle(null);
  }

  /** The polls held now, for wake() to answer. */
  held(): Array<Waiter<T>> {
    return [...this.waiters];
  }

  /** Holds a long poll until wake() settles it with an answer (or null), or `ms` pass (null). */
  wait(poll: Omit<Waiter<T>, "settle">, ms: number): Promise<T | null> {
    return new Promise((resolve) => {
      const waiter: Waiter<T> = {
        ...poll,
        settle: (result) => {
          cancel();
          this.waiters.delete(waiter);
          resolve(result);
        },
      };
      const cancel = this.clock.timer(ms, () => waiter.settle(null));
      this.waiters.add(waiter);
    });
  }

  /** Every agent's last heartbeat: the stored times, overlaid with the newer ones in memory. */
  private beats(): Array<{ agent_id: string; at: number }> {
    const times = new Map(
      this.sql.exec<{ agent_id: string; at: number }>("SELECT agent_id, at FROM heartbeats").toArray().map((r) => [r.agent_id, r.at]),
    );
    for (const [agent, beat] of this.lastBeats) if (beat.at > (times.get(agent) ?? 0)) times.set(agent, beat.at);
    return [...times].map(([agent_id, at]) => ({ agent_id, at }));
  }
}
