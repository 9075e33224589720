// The latency Caddy adds per request, for BENCHMARKS.md's "Cutover" section: sequential keep-alive GETs of a
// static page through the proxy, against the same container on the loopback port Caddy dials (Docker's userland
// proxy, docker-proxy, in between), and against the container's bridge address (no docker-proxy), interleaved in
// batches (A/B/C, A/B/C, …) so that the noise of a shared machine falls on every path alike.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { percentile } from "./lib.ts";

export interface LatencyPath {
  label: string;
  url: string;
}

export interface PathFigures {
  label: string;
  n: number;
  p50: number;
  p99: number;
  /** Connections this client opened over the measured run (0 when keep-alive held). */
  clientConnections: number;
  /** Connections anyone opened to the path's port over the measured run: this client, and Caddy to its upstream (0 when keep-alive held). */
  allConnections: number;
}

export interface LatencyOptions {
  paths: LatencyPath[];
  /** Requests per path, after the warm-up. */
  requests?: number;
  batch?: number;
  warmup?: number;
  /** Waits up to waitMs for the 1-minute load to fall below this before measuring. */
  maxLoad?: number;
  waitMs?: number;
}

export interface LatencyReport {
  figures: PathFigures[];
  loadBefore: number;
  loadAfter: number;
  waitedS: number;
}

/**
 * Local ports of the client sockets (IPv4) whose remote end is PORT, open or in TIME_WAIT: the connections
 * opened to it in the last minute (a closed one stays in TIME_WAIT for 60 s, so one per request would show).
 */
function connectionsTo(port: number): Set<number> {
  const found = new Set<number>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (state === "0A" || !local || !remote) continue; // 0A: listening
    if (Number.parseInt(remote.split(":")[1]!, 16) === port) found.add(Number.parseInt(local.split(":")[1]!, 16));
  }
  return found;
}

/**
 * Measures every path in PATHS with its own keep-alive client (one socket each), after a warm-up, in interleaved
 * batches; counts the connections opened to each path's port from /proc/net/tcp after every batch, so a path
 * that did not keep its connection alive shows.
 */
export async function measureProxyLatency({ paths, requests = 2000, batch = 100, warmup = 200, maxLoad = 1, waitMs = 180_000 }: LatencyOptions): Promise<LatencyReport> {
  const waitStart = Date.now();
  while (loadavg()[0]! >= maxLoad && Date.now() - waitStart < waitMs) await sleep(5000);
  const waitedS = Math.round((Date.now() - waitStart) / 1000);
  const loadBefore = loadavg()[0]!;
  const clients = paths.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const samples = paths.map((): number[] => []);
  const ports = paths.map((p) => Number(new URL(p.url).port || 80));
  const seen = paths.map(() => new Set<number>());
  const ours = paths.map(() => new Set<number>());
  const get = (i: number) => new Promise<number>((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(paths[i]!.url, { agent: clients[i] }, (res) => {
      if (!req.reusedSocket) ours[i]!.add(res.socket.localPort ?? 0);
      res.resume();
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`${paths[i]!.url}: HTTP ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - start) / 1e6);
      });
    });
    req.on("error", reject).end();
  });
  try {
    for (let i = 0; i < paths.length; i++) for (let k = 0; k < warmup; k++) await get(i);
    for (const set of ours) set.clear();
    const before = paths.map((_, i) => connectionsTo(ports[i]!));
    for (let done = 0; done < requests; done += batch) {
      for (let i = 0; i < paths.length; i++) {
        for (let k = 0; k < Math.min(batch, requests - done); k++) samples[i]!.push(await get(i));
        // Sockets open before the run (the warm-up's, Caddy's pooled ones) do not count as opened during it.
        for (const local of connectionsTo(ports[i]!)) if (!before[i]!.has(local)) seen[i]!.add(local);
      }
    }
  } finally {
    for (const client of clients) client.destroy();
  }
  return {
    figures: paths.map((p, i) => {
      const sorted = [...samples[i]!].sort((a, b) => a - b);
      return { label: p.label, n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), clientConnections: ours[i]!.size, allConnections: seen[i]!.size };
    }),
    loadBefore,
    loadAfter: loadavg()[0]!,
    waitedS,
  };
}

/** The container's address on its Docker network, for the path without docker-proxy. */
export function bridgeAddress(container: string): string {
  const ip = execFileSync("docker", ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container], { encoding: "utf8" }).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`${container} has no bridge address (${ip || "none"})`);
  return ip;
}
