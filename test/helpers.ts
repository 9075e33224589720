import { exports } from "cloudflare:workers";
import { env } from "cloudflare:workers";
import type { AppState } from "../src/app/app-state";
import { FakeClock, systemClock, type Clock } from "../src/host/clock";
import type { HostQueue } from "../src/host/host-queue";

export const ADMIN = "test-admin-token";
export const ENROLL = "test-enroll-token";
export const WEBHOOK_SECRET = "test-webhook-secret";
export const BASE = "http://deploybot.test";

/** A request to the Worker under test, through its real fetch handler. */
export function call(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = ADMIN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (typeof rest.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...rest, headers }));
}

export async function callJson<T = any>(path: string, init: RequestInit & { token?: string | null } = {}) {
  const res = await call(path, init);
  const body = (await res.json()) as T;
  return { status: res.status, body, headers: res.headers };
}

export async function hmacHex(secret: string, body: string | Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const data = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const sig = await crypto.subtle.sign("HMAC", key, data);
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let deliveryCounter = 0;

/** Sends a webhook signed as GitHub signs it. */
export async function sendWebhook(
  event: string,
  payload: unknown,
  options: { delivery?: string; secret?: string; signature?: string | null } = {},
): Promise<Response> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": options.delivery ?? `delivery-${Date.now()}-${++deliveryCounter}`,
  };
  if (options.signature !== null) {
    headers["x-hub-signature-256"] = options.signature ?? `sha256=${await hmacHex(options.secret ?? WEBHOOK_SECRET, body)}`;
  }
  return call("/v1/webhooks/github", { method: "POST", body, headers, token: null });
}

/** Replaces the running apps.yaml through the API. */
export async function putConfig(yaml: string): Promise<Response> {
  return call("/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
}

export const sha = (n: number) => n.toString(16).padStart(40, "a").slice(-40);

/** Registers an agent for `hostname` and returns its id and token. */
export async function registerAgent(hostname: string) {
  const { status, body } = await callJson<{ agent_id: string; token: string }>("/v1/agents/register", {
    method: "POST",
    token: ENROLL,
    body: JSON.stringify({ hostname, version: "test" }),
  });
  if (status !== 201) throw new Error(`register failed: ${status}`);
  return body;
}

/**
 * Waits until the host's jobs and log lines are in D1 (the flushes run after the responses): the
 * host's outbox delivers its jobs to their apps' objects, whose outboxes carry them on to D1.
 */
export async function settleHistory(host: string): Promise<void> {
  const { runInDurableObject } = await import("cloudflare:test");
  const apps = await runInDurableObject(hostStub(host), async (instance: HostQueue, state) => {
    await instance.outbox.flush();
    return state.storage.sql.exec<{ app: string }>("SELECT DISTINCT app FROM jobs").toArray().map((row) => row.app);
  });
  for (const app of apps) await settleApp(app);
}

/**
 * Runs `body` with a FakeClock in the host's object: lease, long-poll and alarm tests move time
 * with `await clock.advance(ms)` instead of sleeping. The object's real clock is back afterwards.
 * Time moves inside the object, since the timers it fires settle the object's own promises.
 */
export function withFakeClock<T>(host: string, body: (clock: FakeClockHandle) => Promise<T>): Promise<T> {
  return withObjectClock(hostStub(host), body);
}

/** The test's hold on an object's fake clock: move it on (timers due fire inside the object), read it. */
export interface FakeClockHandle {
  advance(ms: number): Promise<void>;
  now(): number;
}

/** withFakeClock for any of the Worker's Durable Objects (each has a swappable `clock`). */
export async function withObjectClock<T>(
  stub: DurableObjectStub<HostQueue> | DurableObjectStub<AppState>,
  body: (clock: FakeClockHandle) => Promise<T>,
): Promise<T> {
  const { runInDurableObject } = await import("cloudflare:test");
  const fake = new FakeClock();
  const inObject = (fn: (instance: { clock: Clock }) => void) => runInDurableObject(stub as DurableObjectStub<HostQueue>, (instance: HostQueue) => fn(instance));
  await inObject((instance) => void (instance.clock = fake));
  try {
    return await body({ advance: (ms) => inObject(() => fake.advance(ms)), now: () => fake.now() });
  } finally {
    await inObject((instance) => void (instance.clock = systemClock));
  }
}

/** Waits until the app's object has delivered its rollouts and jobs to D1. */
export async function settleApp(app: string): Promise<void> {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(appStub(app), async (instance: AppState) => {
    await instance.outbox.flush();
  });
}

export function appStub(app: string) {
  return env.APP_STATE.get(env.APP_STATE.idFromName(app));
}

export function hostStub(host: string) {
  return env.HOST_QUEUE.get(env.HOST_QUEUE.idFromName(host));
}

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** Opens an SSE stream through the Worker and parses events as they arrive. */
export async function openSse(path: string, init: { token?: string | null; headers?: Record<string, string> } = {}) {
  const res = await call(path, { token: init.token === undefined ? ADMIN : init.token, headers: init.headers ?? {} });
  if (res.status !== 200 || !res.body) {
    const text = await res.text();
    throw new Error(`stream answered ${res.status}: ${text}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  const queue: SseEvent[] = [];

  async function fill(): Promise<boolean> {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    buffer += value;
    let split: number;
    while ((split = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, split);
      buffer = buffer.slice(split + 2);
      const event: Partial<SseEvent> = { event: "message" };
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") event.id = value;
        else if (field === "event") event.event = value;
        else if (field === "data") data += (data ? "\n" : "") + value;
      }
      if (data) queue.push({ ...(event as SseEvent), data: JSON.parse(data) });
    }
    return true;
  }

  return {
    response: res,
    /** The next event, waiting for it; null once the stream ended. */
    async next(): Promise<SseEvent | null> {
      while (queue.length === 0) {
        if (ended || !(await fill())) return null;
      }
      return queue.shift()!;
    },
    /** Events until (and including) the first that `stop` accepts. */
    async until(stop: (e: SseEvent) => boolean): Promise<SseEvent[]> {
      const seen: SseEvent[] = [];
      for (;;) {
        const event = await this.next();
        if (!event) return seen;
        seen.push(event);
        if (stop(event)) return seen;
      }
    },
    async close() {
      await reader.cancel().catch(() => undefined);
    },
  };
}

/** A scripted agent speaking the protocol through the Worker. */
export async function scriptedAgent(hostname: string) {
  const reg = await registerAgent(hostname);
  const as = (path: string, body: unknown) =>
    callJson(path, { method: "POST", body: JSON.stringify(body), token: reg.token });
  return {
    id: reg.agent_id,
    token: reg.token,
    heartbeat: (running_job_id: string | null = null, wait = 0) =>
      as(`/v1/agents/${reg.agent_id}/heartbeat?wait=${wait}`, { running_job_id }),
    status: (jobId: string, body: Record<string, unknown>) => as(`/v1/jobs/${jobId}/status`, body),
    logs: async (jobId: string, lines: Array<{ seq: number; text: string; stream?: string }>, attempt?: number) => {
      const res = await call(`/v1/jobs/${jobId}/logs`, {
        method: "POST",
        token: reg.token,
        body: JSON.stringify({ lines: lines.map((l) => ({ ts: new Date().toISOString(), stream: "stdout", ...l })), ...(attempt ? { attempt } : {}) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}

/** Records every statement a Durable Object runs on its SQLite storage (its SQL and bindings) until stop(). */
export function recordingSql(sql: SqlStorage): { ran: Array<{ query: string; bindings: SqlStorageValue[] }>; stop: () => void } {
  const ran: Array<{ query: string; bindings: SqlStorageValue[] }> = [];
  const exec = sql.exec.bind(sql);
  sql.exec = ((query: string, ...bindings: SqlStorageValue[]) => (ran.push({ query, bindings }), exec(query, ...bindings))) as typeof sql.exec;
  return { ran, stop: () => void (sql.exec = exec) };
}

/** A D1 binding that records every statement bound on it (its SQL and parameters), then runs it. */
export function recordingD1(db: D1Database): { db: D1Database; sent: Array<{ query: string; params: unknown[] }> } {
  const sent: Array<{ query: string; params: unknown[] }> = [];
  const recording = new Proxy(db, {
    get(target, key) {
      if (key !== "prepare") return Reflect.get(target, key, target);
      return (query: string) =>
        new Proxy(target.prepare(query), {
          get(inner, name) {
            if (name !== "bind") return Reflect.get(inner, name, inner);
            return (...params: unknown[]) => {
              sent.push({ query, params });
              return inner.bind(...params);
            };
          },
        });
    },
  });
  return { db: recording, sent };
}
