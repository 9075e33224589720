import { RelayError } from "./errors.ts";
import { parsePublicKeyLine } from "./host-key.ts";
import type { SshTarget } from "./pool.ts";

/**
 * Validation at the edge (hand-written: four small shapes do not justify a
 * schema library). Everything a command is built from is checked here, so the
 * builders in commands.ts can assume well-formed names, ports and URLs.
 */

export interface ExecRequest {
  target: SshTarget;
  command: string;
  timeoutMs: number;
  maxOutputBytes: number;
}

export interface DeploySpec {
  image: string;
  container: string;
  ports: string[];
  env: Record<string, string>;
  /** Without a proxy, the URL to poll; with one, the path polled on the new container's own port (url is then ""). */
  health: { url: string; path: string | null; timeoutMs: number } | null;
  /** Set: a zero-downtime cutover behind the target's Caddy (cutover.ts). */
  proxy: ProxySpec | null;
}

export interface ProxySpec {
  listen: string;
  host: string | null;
  appPort: number;
  drainMs: number;
  /** Caddy's admin API on the target's loopback, `127.0.0.1:2019`. */
  admin: string;
}

export interface DeployRequest {
  target: SshTarget;
  jobId: string;
  attempt: number;
  /** Values of the `deploybot.app` and `deploybot.sha` labels (the container name and "" when absent). */
  app: string;
  sha: string;
  deploy: DeploySpec;
}

export const EXEC_TIMEOUT = { defaultS: 60, maxS: 3600 };
export const OUTPUT_CAP = { defaultBytes: 1024 * 1024, maxBytes: 16 * 1024 * 1024 };
export const HEALTH_TIMEOUT = { defaultS: 30, maxS: 3600 };

const CONTAINER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PORT = /^(?:(?:\d{1,3}\.){3}\d{1,3}:)?\d{1,5}:\d{1,5}(?:\/(?:tcp|udp))?$/;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

export function parseTarget(value: unknown): SshTarget {
  const target = object(value, "target");
  const name = string(target.name, "target.name", { max: 253 });
  const address = string(target.address, "target.address", { max: 253 });
  if (address.startsWith("-") || /\s/.test(address)) invalid("target.address must be a host name or IP address");
  const port = target.port === undefined ? 22 : integer(target.port, "target.port", 1, 65535);
  const user = string(target.user, "target.user", { max: 64 });
  const hostKey = string(target.host_key, "target.host_key", { max: 16384 });
  try {
    parsePublicKeyLine(hostKey);
  } catch (err) {
    invalid(`target.host_key: ${(err as Error).message}`);
  }
  return { name, address, port, user, host_key: hostKey };
}

export function parseExecRequest(body: unknown): ExecRequest {
  const input = object(body, "body");
  const target = parseTarget(input.target);
  const command = string(input.command, "command", { max: 256 * 1024 });
  if (command.includes("\0")) invalid("command must not contain a NUL byte");
  const timeoutS = input.timeout_s === undefined ? EXEC_TIMEOUT.defaultS : number(input.timeout_s, "timeout_s", 0.001, EXEC_TIMEOUT.maxS);
  const maxOutputBytes =
    input.max_output_bytes === undefined ? OUTPUT_CAP.defaultBytes : integer(input.max_output_bytes, "max_output_bytes", 0, OUTPUT_CAP.maxBytes);
  return { target, command, timeoutMs: Math.round(timeoutS * 1000), maxOutputBytes };
}

export function parseMetricsRequest(body: unknown): { target: SshTarget } {
  return { target: parseTarget(object(body, "body").target) };
}

export function parseDeployRequest(body: unknown): DeployRequest {
  const input = object(body, "body");
  const target = parseTarget(input.target);
  const jobId = string(input.job_id, "job_id", { max: 128 });
  if (!JOB_ID.test(jobId)) invalid("job_id must be letters, digits, '.', '_' or '-' (it becomes part of a container name)");
  const attempt = input.attempt === undefined ? 1 : integer(input.attempt, "attempt", 1, 1000);
  const deploy = object(input.deploy, "deploy");

  const image = string(deploy.image, "deploy.image", { max: 1024 });
  // Quoting stops a value from running; this stops it from being read as a docker option.
  if (image.startsWith("-")) invalid("deploy.image must not start with '-'");
  noNul(image, "deploy.image");

  const container = string(deploy.container, "deploy.container", { max: 128 });
  if (!CONTAINER.test(container)) invalid("deploy.container must be a Docker container name ([A-Za-z0-9][A-Za-z0-9_.-]*)");

  const ports = deploy.ports === undefined ? [] : array(deploy.ports, "deploy.ports").map((port, i) => {
    const value = string(port, `deploy.ports[${i}]`, { max: 64 });
    if (!PORT.test(value)) invalid(`deploy.ports[${i}] must look like "8080:80" or "127.0.0.1:8080:80"`);
    return value;
  });

  const env: Record<string, string> = {};
  if (deploy.env !== undefined) {
    for (const [key, value] of Object.entries(object(deploy.env, "deploy.env"))) {
      // Shell identifiers, as apps.yaml requires: the deploy exports them (commands.ts, dockerRun).
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) invalid(`deploy.env: ${JSON.stringify(key)} is not an environment variable name (letters, digits and '_', not starting with a digit)`);
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") invalid(`deploy.env.${key} must be a string`);
      const text = String(value);
      noNul(text, `deploy.env.${key}`);
      env[key] = text;
    }
  }

  const proxy = deploy.proxy === undefined || deploy.proxy === null ? null : parseProxy(deploy.proxy);
  if (proxy && ports.length > 0) invalid("deploy: an app has either proxy or ports, not both");

  let health: DeploySpec["health"] = null;
  if (deploy.health !== undefined && deploy.health !== null) {
    const h = object(deploy.health, "deploy.health");
    const timeoutS = h.timeout === undefined ? HEALTH_TIMEOUT.defaultS : duration(h.timeout, "deploy.health.timeout", HEALTH_TIMEOUT.maxS);
    if (proxy) {
      const path = string(h.path, "deploy.health.path", { max: 2048 });
      if (!/^\/[^\s?#\0]*$/.test(path)) invalid("deploy.health.path must be a path such as /up");
      health = { url: "", path, timeoutMs: Math.round(timeoutS * 1000) };
    }
  }
  if (!proxy && deploy.health !== undefined && deploy.health !== null) {
    const h = object(deploy.health, "deploy.health");
    const url = string(h.url, "deploy.health.url", { max: 2048 });
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      invalid("deploy.health.url must be an http(s) URL");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") invalid("deploy.health.url must be an http(s) URL");
    if (/[\s\0]/.test(url)) invalid("deploy.health.url must not contain spaces");
    const timeoutS = h.timeout === undefined ? HEALTH_TIMEOUT.defaultS : duration(h.timeout, "deploy.health.timeout", HEALTH_TIMEOUT.maxS);
    health = { url, path: null, timeoutMs: Math.round(timeoutS * 1000) };
  }

  const app = input.app === undefined ? container : string(input.app, "app", { max: 256, min: 0 });
  const sha = input.sha === undefined || input.sha === null ? "" : string(input.sha, "sha", { max: 256, min: 0 });
  noNul(app, "app");
  noNul(sha, "sha");
  return { target, jobId, attempt, app, sha, deploy: { image, container, ports, env, health, proxy } };
}

const LISTEN = /^(?:(?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+\])?:(\d{1,5})$/;
const ADMIN = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/;
const HOSTNAME = /^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** The proxy block as apps.yaml validated it, checked again here: its values reach curl and Caddy's config. */
function parseProxy(value: unknown): ProxySpec {
  const p = object(value, "deploy.proxy");
  const listen = string(p.listen, "deploy.proxy.listen", { max: 64 });
  if (!LISTEN.test(listen)) invalid('deploy.proxy.listen must look like "0.0.0.0:80" or ":80"');
  const host = p.host === undefined || p.host === null ? null : string(p.host, "deploy.proxy.host", { max: 253 });
  if (host !== null && !HOSTNAME.test(host)) invalid("deploy.proxy.host must be a DNS name");
  const appPort = integer(p.app_port, "deploy.proxy.app_port", 1, 65535);
  const drainS = p.drain === undefined ? 30 : p.drain === 0 ? 0 : duration(p.drain, "deploy.proxy.drain", 3600);
  const admin = p.admin === undefined ? "127.0.0.1:2019" : string(p.admin, "deploy.proxy.admin", { max: 64 });
  if (!ADMIN.test(admin)) invalid('deploy.proxy.admin must be Caddy\'s admin address on loopback, such as "127.0.0.1:2019"');
  return { listen, host, appPort, drainMs: Math.round(drainS * 1000), admin };
}

function invalid(message: string): never {
  throw new RelayError("invalid_request", message);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) invalid(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) invalid(`${what} must be an array`);
  return value;
}

function string(value: unknown, what: string, { max, min = 1 }: { max: number; min?: number }): string {
  if (typeof value !== "string") invalid(`${what} must be a string`);
  if (value.length < min) invalid(`${what} must not be empty`);
  if (value.length > max) invalid(`${what} is longer than ${max} characters`);
  return value;
}

function number(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) invalid(`${what} must be a number from ${min} to ${max}`);
  return value;
}

function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) invalid(`${what} must be an integer from ${min} to ${max}`);
  return value;
}

/** Seconds, from a number of seconds or a string such as "30s", "500ms", "2m". */
function duration(value: unknown, what: string, maxS: number): number {
  let seconds: number | null = null;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string") {
    const match = DURATION.exec(value.trim());
    if (match) seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? "s"] ?? 1);
  }
  if (seconds === null || !Number.isFinite(seconds) || seconds <= 0 || seconds > maxS) invalid(`${what} must be a duration from 1 ms to ${maxS} s ("30s" or 30)`);
  return seconds;
}

function noNul(value: string, what: string): void {
  if (value.includes("\0")) invalid(`${what} must not contain a NUL byte`);
}
