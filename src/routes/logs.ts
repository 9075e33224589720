import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { loadRunningConfig } from "../config/current";
import { jobLogLines } from "../db/queries";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { endEvent, logEvent, statusEvent, toSse, type StreamEvent } from "../host/stream";
import { appState } from "../app/stub";
import { findJob, hostQueue } from "../host/stub";
import { appOfRolloutId } from "../schemas/rollouts";
import { streamAuth } from "../middleware/stream-auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { FINISHED_STATUSES, type Job } from "../schemas/jobs";

/** A comment line this often keeps proxies from closing an idle stream, and finds clients that left. */
const KEEPALIVE_MS = 15_000;

const StreamQuery = z.object({
  job_id: z.string().min(1).max(128).optional(),
  host: z.string().min(1).max(64).optional(),
  rollout_id: z.string().min(1).max(128).optional().openapi({ description: "a rollout's `rollout` events: one per change (every wave start and end), then `end`" }),
  ticket: z.string().max(512).optional().openapi({ description: "a stream ticket (POST /v1/logs/tickets) for this job or rollout: for browsers' EventSource, which cannot send headers" }),
  access_token: z.string().optional().openapi({ description: "the API token, for compatibility; prefer `ticket`, since URLs land in request logs" }),
  last_event_id: z.coerce.number().int().min(0).optional().openapi({ description: "same as the Last-Event-ID header" }),
});

const streamRoute = createRoute({
  method: "get",
  path: "/v1/logs/stream",
  tags: ["logs"],
  summary: "Live logs as server-sent events",
  description:
    "Events: `log` (id = the line's position; data {job_id, attempt, seq, ts, stream, text}), `status` (data: Job) and, for a job stream, `end` when the job finished. " +
    "With `rollout_id`: `rollout` (data: Rollout) at every change, and `end` when it finished. " +
    "History comes first, then live lines. Reconnect with Last-Event-ID to resume with no gap and no duplicate.",
  security: [{ apiToken: [] }],
  middleware: [streamAuth] as const,
  request: { query: StreamQuery },
  responses: {
    200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const encoder = new TextEncoder();

/** An SSE response that writes `events` and ends: for jobs whose object no longer holds them. */
function finishedStream(events: StreamEvent[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const event of events) controller.enqueue(encoder.encode(toSse(event)));
      controller.close();
    },
  });
}

/** A pruned job: its status and log history from D1. */
async function historyEvents(env: Env, job: Job, after: number): Promise<StreamEvent[]> {
  const db = drizzle(env.DB);
  const events: StreamEvent[] = [statusEvent(job)];
  for (let lines = await jobLogLines(db, job.id, after, 1000); lines.length; lines = await jobLogLines(db, job.id, lines.at(-1)!.pos, 1000)) {
    events.push(...lines.map(logEvent));
  }
  if (FINISHED_STATUSES.includes(job.status)) events.push(endEvent(job));
  return events;
}

/**
 * Relays the host object's WebSocket as SSE. The object accepted the socket
 * for hibernation, so a quiet stream costs the object nothing; this Worker
 * invocation holds the client's connection.
 */
function relay(socket: WebSocket): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  let open = true;
  const stop = () => {
    if (!open) return;
    open = false;
    clearInterval(keepalive);
    try {
      socket.close(1000, "client gone");
    } catch {
      // already closed
    }
    writer.close().catch(() => undefined);
  };
  const write = (text: string) => writer.write(encoder.encode(text)).catch(stop);
  const keepalive = setInterval(() => void write(": keep-alive\n\n"), KEEPALIVE_MS);

  socket.accept();
  void write("retry: 2000\n\n");
  socket.addEventListener("message", (message) => {
    const events = JSON.parse(typeof message.data === "string" ? message.data : new TextDecoder().decode(message.data)) as StreamEvent[];
    void write(events.map(toSse).join(""));
  });
  socket.addEventListener("close", stop);
  socket.addEventListener("error", stop);
  return readable;
}

export const logsRouter = createRouter().openapi(streamRoute, async (c) => {
  const query = c.req.valid("query");
  if ([query.job_id, query.host, query.rollout_id].filter((v) => v !== undefined).length !== 1) {
    throw new ApiError(400, "invalid_request", "give exactly one of job_id, host or rollout_id");
  }
  const headers = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };
  if (query.rollout_id) {
    const app = appOfRolloutId(query.rollout_id);
    const upstream = app
      ? await appState(c.env, app).fetch(`https://app-state/watch?${new URLSearchParams({ rollout_id: query.rollout_id })}`, { headers: { upgrade: "websocket" } })
      : null;
    if (!upstream?.webSocket) throw new ApiError(404, "rollout_not_found", "no such rollout");
    return c.body(relay(upstream.webSocket), 200, headers);
  }
  const header = c.req.header("last-event-id");
  const after = header !== undefined && /^\d+$/.test(header) ? Number(header) : query.last_event_id ?? 0;

  let host: string;
  let job: Job | null = null;
  if (query.job_id) {
    job = (await findJob(c.env, query.job_id))?.job ?? null;
    if (!job) throw new ApiError(404, "job_not_found", "no such job (a job appears here within moments of being queued)");
    host = job.host;
  } else {
    const { config } = await loadRunningConfig(c.env.DB);
    if (!(query.host! in config.hosts)) throw new ApiError(404, "unknown_host", `host "${query.host}" is not in apps.yaml`);
    host = query.host!;
  }

  const params = new URLSearchParams({ after: String(after) });
  if (query.job_id) params.set("job_id", query.job_id);
  const upstream = await hostQueue(c.env, host).fetch(`https://host-queue/subscribe?${params}`, {
    headers: { upgrade: "websocket" },
  });
  if (upstream.status === 404 && job) return c.body(finishedStream(await historyEvents(c.env, job, after)), 200, headers);
  if (!upstream.webSocket) throw new ApiError(502, "stream_unavailable", "the host's log stream could not be opened");
  return c.body(relay(upstream.webSocket), 200, headers);
});
