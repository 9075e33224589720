import { spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { createLogger, silentLogger } from "../../src/log.ts";
import { SshPool } from "../../src/pool.ts";
import { createRelayServer, type RelayServerOptions } from "../../src/server.ts";

export const TOKEN = "test-relay-token";

export interface TestRelay {
  url: string;
  pool: SshPool;
  close(): Promise<void>;
}

/** The relay in-process on a free port of 127.0.0.1 (set RELAY_TEST_LOG=1 to see its log lines). */
export async function startRelay(privateKey: string | null, options: Partial<RelayServerOptions> = {}): Promise<TestRelay> {
  const logger = process.env.RELAY_TEST_LOG ? createLogger({ write: (line) => process.stderr.write(line) }) : silentLogger;
  const pool = new SshPool({ privateKey, logger, readyTimeoutMs: 10_000 });
  const server = createRelayServer({ token: TOKEN, pool, logger, ...options });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pool,
    async close() {
      pool.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export function post(url: string, body: unknown, token: string | null = TOKEN): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

export type Line = Record<string, unknown> & { type: string };

/** Posts and reads the NDJSON answer line by line; ON_LINE sees each line as it arrives. */
export async function postNdjson(url: string, body: unknown, onLine?: (line: Line) => void): Promise<{ status: number; contentType: string | null; lines: Line[] }> {
  const res = await post(url, body);
  const lines: Line[] = [];
  if (!res.body) return { status: res.status, contentType: res.headers.get("content-type"), lines };
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!text.trim()) continue;
      const line = JSON.parse(text) as Line;
      lines.push(line);
      onLine?.(line);
    }
  }
  if (buffer.trim()) lines.push(JSON.parse(buffer) as Line);
  return { status: res.status, contentType: res.headers.get("content-type"), lines };
}

const REGISTRY = "127.0.0.1:5000";
export const IMAGES = {
  v1: `${REGISTRY}/deploybot/hello:v1`,
  v2: `${REGISTRY}/deploybot/hello:v2`,
  broken: `${REGISTRY}/deploybot/hello:broken`,
  /** Listens only 2 s after it starts (scripts/services/docker.sh). */
  slow: `${REGISTRY}/deploybot/hello:slow`,
};

/** Fails loudly (never skips) when the Docker engine or the test registry does not answer. */
export function requireDocker(): void {
  const fix = "run `sudo bash scripts/services/docker.sh` from the repository root (it starts dockerd and the registry with the test images)";
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
  if (info.error || info.status !== 0) throw new Error(`the Docker engine does not answer (${(info.error?.message ?? info.stderr).trim()}): ${fix}`);
  const tags = spawnSync("curl", ["-fsS", "--max-time", "5", `http://${REGISTRY}/v2/deploybot/hello/tags/list`], { encoding: "utf8" });
  if (tags.status !== 0 || !["v1", "v2", "broken"].every((tag) => tags.stdout.includes(`"${tag}"`))) {
    throw new Error(`the registry on ${REGISTRY} does not hold deploybot/hello:{v1,v2,broken}: ${fix}`);
  }
}

/** `docker ARGS` on this machine (the test's own view of the target), trimmed stdout. */
export function docker(...args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
  return { status: result.status ?? -1, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

/** Removes every container whose name starts with PREFIX. */
export function removeContainers(prefix: string): void {
  const names = docker("ps", "-a", "--filter", `name=^${prefix}`, "--format", "{{.Names}}").stdout.split("\n").filter(Boolean);
  if (names.length) docker("rm", "-f", ...names);
}
