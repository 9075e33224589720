import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Client, Job } from "./client.ts";
import { CliError } from "./errors.ts";

export interface LogLine {
  job_id: string;
  attempt: number;
  seq: number;
  ts: string;
  stream: string;
  text: string;
}

export interface FollowHandlers {
  onLog(line: LogLine): void;
  onStatus?(job: Job): void;
  /** A dropped connection, before the next try. */
  onReconnect?(attempt: number, reason: string): void;
}

const MAX_BACKOFF_MS = 10_000;

/**
 * Follows a job's SSE stream until its `end` event and returns the final job.
 * A dropped connection is retried with backoff and resumed with Last-Event-ID,
 * so no line is repeated or lost. `signal` stops following (returns null).
 */
export async function followJob(client: Client, jobId: string, handlers: FollowHandlers, signal?: AbortSignal): Promise<Job | null> {
  let lastEventId: string | undefined;
  let finalJob: Job | null = null;
  let lastJob: Job | null = null;
  let failures = 0;

  while (!signal?.aborted) {
    let ended = false;
    try {
      const res = await client.raw(`/v1/logs/stream?job_id=${encodeURIComponent(jobId)}`, {
        headers: { accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
        ...(signal ? { signal } : {}),
      });
      if (res.status === 404 && failures === 0) await client.check(res); // a wrong id: say so at once
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new Error(`stream answered ${res.status}`);
      }
      failures = 0;
      const parser = createParser({
        onEvent(event: EventSourceMessage) {
          if (event.id) lastEventId = event.id;
          const data = JSON.parse(event.data) as unknown;
          if (event.event === "log") handlers.onLog(data as LogLine);
          else if (event.event === "status") {
            lastJob = data as Job;
            handlers.onStatus?.(lastJob);
          } else if (event.event === "end") {
            ended = true;
            finalJob = lastJob;
          }
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (ended) break;
      }
      if (ended) {
        await res.body.cancel().catch(() => undefined);
        return finalJob;
      }
      throw new Error("the stream closed before the job ended");
    } catch (err) {
      if (signal?.aborted) return null;
      if (err instanceof CliError && err.status !== undefined && err.status < 500) throw err; // retrying will not help
      failures += 1;
      const reason = err instanceof Error ? err.message : String(err);
      handlers.onReconnect?.(failures, reason);
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return null;
}
