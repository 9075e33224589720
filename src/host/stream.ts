import type { Job } from "../schemas/jobs";
import type { LogLine } from "./logs";

/** One server-sent event. Only log lines carry an `id` (their host-wide pos), so Last-Event-ID resumes logs exactly. */
export interface StreamEvent {
  event: "log" | "status" | "end" | "rollout";
  id?: number;
  data: unknown;
}

export const logEvent = (line: LogLine): StreamEvent => ({
  event: "log",
  id: line.pos,
  data: { job_id: line.job_id, attempt: line.attempt, seq: line.seq, ts: line.ts, stream: line.stream, text: line.text },
});
export const statusEvent = (job: Job): StreamEvent => ({ event: "status", data: job });
export const endEvent = (job: Job): StreamEvent => ({ event: "end", data: { job_id: job.id, status: job.status } });

/** Keeps each WebSocket message well under the 1 MiB message limit. */
const MAX_FRAME_CHARS = 256 * 1024;

/** Packs events into JSON-array frames for the WebSocket between the Durable Object and the Worker. */
export function frames(events: StreamEvent[]): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let size = 0;
  for (const event of events) {
    const json = JSON.stringify(event);
    if (batch.length > 0 && size + json.length > MAX_FRAME_CHARS) {
      out.push(`[${batch.join(",")}]`);
      batch = [];
      size = 0;
    }
    batch.push(json);
    size += json.length + 1;
  }
  if (batch.length > 0) out.push(`[${batch.join(",")}]`);
  return out;
}

/** The text/event-stream form of one event. `data` is one JSON line, so it never needs splitting. */
export function toSse(event: StreamEvent): string {
  return `${event.id !== undefined ? `id: ${event.id}\n` : ""}event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
