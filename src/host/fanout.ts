import { errorBody, REVOKED_MESSAGE } from "../errors";
import type { Effects } from "./effects";
import { FINISHED_STATUSES, type Job } from "../schemas/jobs";
import type { LogLine } from "./logs";
import { endEvent, frames, logEvent, statusEvent, type StreamEvent } from "./stream";

/** What a connected agent's WebSocket remembers across hibernation. */
interface AgentSocket {
  agentId: string;
}

/** A message the object sends an agent on its push channel. */
export type AgentMessage =
  | { type: "heartbeat"; job: unknown; cancel: string[] }
  | { type: "job"; job: unknown }
  | { type: "cancel"; cancel: string[] }
  | { type: "error"; error: string };

/**
 * Every WebSocket of the host object, hibernation-safe: log subscribers (tagged `job:<id>` or
 * `host`) that the Worker turns into SSE, and agents' push channels (tagged `agent` and
 * `agent:<id>`). The one place that reads socket attachments and tags.
 */
export class Fanout {
  constructor(private readonly ctx: DurableObjectState) {}

  /**
   * Sends what a unit of work recorded: each job's events to its subscribers (closed after an
   * `end`), and every event but `end` to the host's subscribers, in the order they happened.
   */
  publish(fx: Effects): void {
    if (fx.events.length === 0) return;
    const byJob = new Map<string, StreamEvent[]>();
    for (const { jobId, event } of fx.events) byJob.set(jobId, [...(byJob.get(jobId) ?? []), event]);
    // Frames are made only for a stream someone watches (most changes have no watcher).
    for (const [jobId, events] of byJob) {
      const sockets = this.ctx.getWebSockets(`job:${jobId}`);
      if (sockets.length) this.send(sockets, frames(events), fx.ended.has(jobId));
    }
    const watchers = this.ctx.getWebSockets("host");
    const hostEvents = watchers.length ? fx.events.map((e) => e.event).filter((e) => e.event !== "end") : [];
    if (hostEvents.length) this.send(watchers, frames(hostEvents), false);
  }

  /**
   * A new log subscriber for one job (or, jobId null, the whole host): it gets the job's status
   * and `lines` first, then live events; a finished job's stream ends there. Accepted for
   * hibernation, so an idle stream does not keep the object awake.
   */
  subscribe(jobId: string | null, job: Job | null, lines: LogLine[]): Response {
    const ended = job !== null && FINISHED_STATUSES.includes(job.status);
    const history = [...(job ? [statusEvent(job)] : []), ...lines.map(logEvent), ...(ended ? [endEvent(job)] : [])];
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [jobId ? `job:${jobId}` : "host"]);
    this.send([server], frames(history), ended);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * An agent's message on its push channel, `{"type": "heartbeat", "running_job_id"}`: what it
   * says, or null (a log subscriber, or a malformed message, answered here with an error).
   */
  readHeartbeat(ws: WebSocket, message: string | ArrayBuffer): { agentId: string; runningJobId: string | null } | null {
    const agentId = this.agentOf(ws);
    if (!agentId) return null; // log subscribers only listen
    let parsed: { type?: unknown; running_job_id?: unknown };
    try {
      parsed = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
    } catch {
      this.tell(ws, { type: "error", error: "messages are JSON" });
      return null;
    }
    if (parsed.type !== "heartbeat") {
      this.tell(ws, { type: "error", error: 'unknown message type; send {"type":"heartbeat","running_job_id":…}' });
      return null;
    }
    return { agentId, runningJobId: typeof parsed.running_job_id === "string" ? parsed.running_job_id : null };
  }

  /** An agent's push channel (see HostQueue.fetch). */
  connectAgent(agentId: string): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, ["agent", `agent:${agentId}`]);
    server.serializeAttachment({ agentId } satisfies AgentSocket);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The agent behind a socket; null for a log subscriber. */
  agentOf(ws: WebSocket): string | null {
    return (ws.deserializeAttachment() as AgentSocket | null)?.agentId || null;
  }

  /** Every connected agent's socket. */
  agents(): Array<{ ws: WebSocket; agentId: string }> {
    return this.ctx.getWebSockets("agent").flatMap((ws) => {
      const agentId = this.agentOf(ws);
      return agentId ? [{ ws, agentId }] : [];
    });
  }

  /** Sends one message; false when the socket is gone. */
  tell(ws: WebSocket, message: AgentMessage): boolean {
    try {
      ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes an agent's push channels (revoked). */
  closeAgent(agentId: string): void {
    for (const ws of this.ctx.getWebSockets(`agent:${agentId}`)) close(ws, 4401, "agent revoked");
  }

  private send(sockets: WebSocket[], payload: string[], end: boolean): void {
    for (const ws of sockets) {
      try {
        for (const frame of payload) ws.send(frame);
        if (end) ws.close(1000, "job finished");
      } catch {
        // a subscriber that went away is dropped by the runtime
      }
    }
  }
}

export function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

/** The API's 401 for a revoked agent, answered by the object itself on the push channel's upgrade. */
export function revokedResponse(): Response {
  return Response.json(errorBody("agent_revoked", REVOKED_MESSAGE), { status: 401 });
}
