import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { parseAppsYaml, type AppConfig } from "../src/config/apps";
import type { Env } from "../src/env";
import { FakeClock } from "../src/host/clock";
import { Schedule } from "../src/host/schedule";
import { Notifications } from "../src/notify/notifications";
import { LIVE_DEPLOYMENT_TABLES, NOTIFY_TABLES } from "../src/notify/tables";
import type { JobSnapshot } from "../src/schemas/jobs";

export const PUBLIC_URL = "https://deploybot.example";
export const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

/** One app of a small apps.yaml, with `extra` lines (indented four spaces) added to it. */
export function appOf(repo: string, extra = ""): AppConfig {
  const result = parseAppsYaml(`version: 1
hosts: { host-01: { mode: agent } }
apps:
  web:
    repo: ${repo}
    branches: [main]
    hosts: [host-01]
    deploy: { image: "registry.test/web:{sha}", container: web }
${extra}`);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config.apps.web!;
}

/** A PKCS#8 RSA key, as a GitHub App's private key (made here: no key lives in the repository). */
export async function appKey(): Promise<string> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  const b64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

export function githubEnv(settings: Partial<Env>): Env {
  return { ...env, GITHUB_API_URL: "http://github.test", DEPLOYBOT_PUBLIC_URL: PUBLIC_URL, ...settings } as Env;
}

export interface Room {
  room: Notifications;
  clock: FakeClock;
  /** The same storage with a new room, as after the object was evicted or the controller restarted. */
  restart(): Notifications;
  /** The object's SQLite, to watch what the room runs. */
  sql: SqlStorage;
}

/** Runs `body` with a room on a fresh Durable Object's storage (the host object's, which has the `timers` table). */
export async function withRoom(name: string, roomEnv: Env, body: (r: Room) => Promise<void>, timeoutMs = 2_000): Promise<void> {
  const stub = env.HOST_QUEUE.get(env.HOST_QUEUE.idFromName(`notify-${name}`));
  await runInDurableObject(stub, async (_instance, state) => {
    for (const statement of [...NOTIFY_TABLES, ...LIVE_DEPLOYMENT_TABLES]) state.storage.sql.exec(statement);
    const clock = new FakeClock();
    const make = () => new Notifications({ sql: state.storage.sql, schedule: new Schedule(state.storage.sql, state.storage), clock, env: roomEnv, timeoutMs });
    await body({ room: make(), clock, restart: make, sql: state.storage.sql });
  });
}

let version = 0;
/** A job snapshot of app web on host-01 with `status`, each call a newer version. */
export function snapshot(id: string, status: JobSnapshot["status"], extra: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    id, app: "web", repo: "", ref: "refs/heads/main", sha: SHA, host: "host-01", mode: "agent", status, attempt: 1,
    agent_id: null, trigger: "webhook", created_at: new Date().toISOString(), started_at: null, finished_at: null,
    exit_code: null, error: status === "failed" ? "health: /up answered 503" : null, rollout_id: null,
    delivery_id: "d1", version: ++version, ...extra,
  };
}

export interface Recorded {
  method: string;
  path: string;
  query: string;
  operationId: string | null;
  body: any;
  problems: string[];
  status: number;
}

export async function standin<T = Recorded[]>(route: string, repo: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`http://github.test/_standin/${route}?repo=${encodeURIComponent(repo)}`, init);
  return (await response.json()) as T;
}

export const faults = (repo: string, list: unknown[]) => standin("faults", repo, { method: "POST", body: JSON.stringify(list) });

export async function received(path: string): Promise<{ seen: Array<{ delivery: string; event: string; verified: boolean; payload: any }>; attempts: number }> {
  const response = await fetch(`http://hooks.test/_receiver/seen?path=${encodeURIComponent(path)}`);
  return (await response.json()) as any;
}
