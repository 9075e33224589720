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
 * Follows one of the controller's SSE streams (`/v1/logs/stream?<query>`) until `onEvent` says it
 * ended (true) or `signal` stops it (false). A dropped connection is retried with backoff and
 * resumed with Last-Event-ID, so no event with an id is repeated or lost.
 */
export async function followStream(
  client: Client,
  query: string,
  onEvent: (event: EventSourceMessage) => boolean,
  onReconnect?: FollowHandlers["onReconnect"],
  signal?: AbortSignal,
): Promise<boolean> {
  let lastEventId: string | undefined;
  let failures = 0;
  while (!signal?.aborted) {
    let ended = false;
    try {
      const res = await client.raw(`/v1/logs/stream?${query}`, {
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
          if (!ended) ended = onEvent(event);
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (ended) break;
      }
      if (ended) {
        await res.body.cancel().catch(() => undefined);
        return true;
      }
      throw new Error("the stream closed before the end");
    } catch (err) {
      if (signal?.aborted) return false;
      if (err instanceof CliError && err.status !== undefined && err.status < 500) throw err; // retrying will not help
      failures += 1;
      onReconnect?.(failures, err instanceof Error ? err.message : String(err));
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return false;
}

/** Follows a job's stream until its `end` event and returns the final job (null: stopped by `signal`). */
export async function followJob(client: Client, jobId: string, handlers: FollowHandlers, signal?: AbortSignal): Promise<Job | null> {
  let lastJob: Job | null = null;
  const ended = await followStream(
    client,
    `job_id=${encodeURIComponent(jobId)}`,
    (event) => {
      const data = JSON.parse(event.data) as unknown;
      if (event.event === "log") handlers.onLog(data as LogLine);
      else if (event.event === "status") {
        lastJob = data as Job;
        handlers.onStatus?.(lastJob);
      }
      return event.event === "end";
    },
    handlers.onReconnect,
    signal,
  );
  return ended ? lastJob : null;
}
