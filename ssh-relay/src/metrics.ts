import { diskFree, dockerPsAll, readProcFiles } from "./commands.ts";
import { RelayError } from "./errors.ts";
import type { Runner } from "./runner.ts";

/** The answer of `POST /v1/metrics` (docs/ssh-relay-api.md). */
export interface HostMetrics {
  hostname: string;
  uptime_s: number;
  load: [number, number, number];
  memory: { total_bytes: number; available_bytes: number; used_bytes: number };
  disk: DiskUsage[];
  containers: ContainerSummary[];
  docker: "available" | "unavailable";
}

export interface DiskUsage {
  filesystem: string;
  mount: string;
  total_bytes: number;
  used_bytes: number;
  available_bytes: number;
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  status: string;
  state: string;
}

/**
 * Reads the target's metrics with three commands run side by side on the
 * pooled connection. Docker being absent or unreachable is not an error:
 * `containers` is empty and `docker` says "unavailable".
 */
export async function collectMetrics(run: Runner): Promise<HostMetrics> {
  const [proc, df, ps] = await Promise.all([run(readProcFiles(), { timeoutMs: 15_000 }), run(diskFree(), { timeoutMs: 15_000 }), run(dockerPsAll(), { timeoutMs: 30_000 })]);
  if (proc.exitCode !== 0) throw new RelayError("ssh_error", `reading /proc failed (exit ${proc.exitCode}): ${firstLine(proc.stderr)}`);
  const host = parseProcFiles(proc.stdout);
  const disk = df.exitCode === 0 || df.stdout.trim() ? parseDf(df.stdout) : [];
  const docker = ps.exitCode === 0 ? "available" : "unavailable";
  return { ...host, disk, containers: docker === "available" ? parseDockerPs(ps.stdout) : [], docker };
}

/** `cat /proc/sys/kernel/hostname /proc/uptime /proc/loadavg /proc/meminfo`, in that order. */
export function parseProcFiles(text: string): Pick<HostMetrics, "hostname" | "uptime_s" | "load" | "memory"> {
  const lines = text.split("\n");
  const hostname = (lines[0] ?? "").trim();
  const uptime = Number((lines[1] ?? "").trim().split(/\s+/)[0]);
  const loadFields = (lines[2] ?? "").trim().split(/\s+/).slice(0, 3).map(Number);
  if (!hostname || !Number.isFinite(uptime) || loadFields.length !== 3 || loadFields.some((n) => !Number.isFinite(n))) {
    throw new RelayError("ssh_error", "unexpected /proc contents on the target");
  }
  const mem = new Map<string, number>();
  for (const line of lines.slice(3)) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (match) mem.set(match[1]!, Number(match[2]) * (line.trimEnd().endsWith("kB") ? 1024 : 1));
  }
  const total = mem.get("MemTotal") ?? 0;
  // MemAvailable exists since Linux 3.14; older kernels: free + buffers + cached.
  const available = mem.get("MemAvailable") ?? (mem.get("MemFree") ?? 0) + (mem.get("Buffers") ?? 0) + (mem.get("Cached") ?? 0);
  return {
    hostname,
    uptime_s: Math.floor(uptime),
    load: loadFields as [number, number, number],
    memory: { total_bytes: total, available_bytes: available, used_bytes: Math.max(0, total - available) },
  };
}

/** `df -P -B1`: header, then `filesystem total used available capacity mount` (the mount may hold spaces). */
export function parseDf(text: string): DiskUsage[] {
  const rows: DiskUsage[] = [];
  for (const line of text.split("\n").slice(1)) {
    const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+(.+)$/.exec(line.trim());
    if (!match) continue;
    rows.push({
      filesystem: match[1]!,
      mount: match[5]!,
      total_bytes: Number(match[2]),
      used_bytes: Number(match[3]),
      available_bytes: Number(match[4]),
    });
  }
  return rows;
}

/** `docker ps -a --format '{{json .}}'`: one object per line with ID, Names, Image, Status, State. */
export function parseDockerPs(text: string): ContainerSummary[] {
  const containers: ContainerSummary[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const status = String(row.Status ?? "");
    containers.push({
      id: String(row.ID ?? ""),
      name: String(row.Names ?? ""),
      image: String(row.Image ?? ""),
      status,
      // Older docker CLIs have no .State: derive it from the status text.
      state: typeof row.State === "string" && row.State ? row.State : stateFromStatus(status),
    });
  }
  return containers;
}

function stateFromStatus(status: string): string {
  if (/^Up\b/.test(status)) return /\(Paused\)/.test(status) ? "paused" : "running";
  if (/^Exited\b/.test(status)) return "exited";
  if (/^Created\b/.test(status)) return "created";
  if (/^Restarting\b/.test(status)) return "restarting";
  if (/^Removal\b/.test(status)) return "removing";
  if (/^Dead\b/.test(status)) return "dead";
  return "unknown";
}

function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}
