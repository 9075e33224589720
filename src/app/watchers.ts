import { frames, type StreamEvent } from "../host/stream";
import { FINISHED_ROLLOUT_STATUSES, type Rollout } from "../schemas/rollouts";

/**
 * The watchers of the app's rollouts: one WebSocket each (tagged `rollout:<id>`), which the Worker
 * turns into SSE `rollout` events ending with `end`. Accepted for hibernation; the one place that
 * reads the app object's socket tags, as Fanout is for a host's.
 */
export class RolloutWatchers {
  constructor(private readonly ctx: Pick<DurableObjectState, "acceptWebSocket" | "getWebSockets">) {}

  /** A new watcher of `rollout`: it gets the rollout as it is now, then every change. */
  watch(rollout: Rollout): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [`rollout:${rollout.id}`]);
    this.send(server, rollout);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Tells a changed rollout's watchers; `rollout` is read once for all of them, and not at all without one. */
  changed(id: string, rollout: () => Rollout): void {
    const watchers = this.ctx.getWebSockets(`rollout:${id}`);
    if (watchers.length === 0) return;
    const now = rollout();
    for (const ws of watchers) this.send(ws, now);
  }

  private send(ws: WebSocket, rollout: Rollout): void {
    const ended = FINISHED_ROLLOUT_STATUSES.includes(rollout.status);
    const events: StreamEvent[] = [{ event: "rollout", data: rollout }, ...(ended ? [{ event: "end" as const, data: { rollout_id: rollout.id, status: rollout.status } }] : [])];
    try {
      for (const frame of frames(events)) ws.send(frame);
      if (ended) ws.close(1000, "rollout finished");
    } catch {
      // a watcher that went away is dropped by the runtime
    }
  }
}
