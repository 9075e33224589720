import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REGISTRY = "127.0.0.1:5000";
const FIX = "Install and start them with `sudo bash scripts/services/docker.sh` (Docker engine and registry) and the .NET 10 SDK (see README).";

/**
 * Fails (never skips) when a service the agent e2e test needs is missing:
 * the Docker engine, the local registry with deploybot/hello:{v1,v2,broken}, the .NET SDK.
 */
export async function requireServices(): Promise<void> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 15_000 });
  } catch (error) {
    throw new Error(`No Docker engine answers (docker info failed: ${(error as Error).message}). ${FIX}`);
  }
  let tags: string;
  try {
    const res = await fetch(`http://${REGISTRY}/v2/deploybot/hello/tags/list`, { signal: AbortSignal.timeout(5000) });
    tags = await res.text();
  } catch (error) {
    throw new Error(`No registry answers at ${REGISTRY} (${(error as Error).message}). ${FIX}`);
  }
  for (const tag of ["v1", "v2", "broken"]) {
    if (!tags.includes(`"${tag}"`)) throw new Error(`The registry at ${REGISTRY} lacks deploybot/hello:${tag} (it has ${tags}). ${FIX}`);
  }
  try {
    await run("dotnet", ["--version"], { timeout: 30_000 });
  } catch (error) {
    throw new Error(`No .NET SDK (dotnet --version failed: ${(error as Error).message}). ${FIX}`);
  }
}

/** Publishes the agent as the README says (self-contained single file) into a fresh directory; returns the executable. */
export async function publishAgent(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), "deploybot-agent-e2e-"));
  const project = resolve(import.meta.dirname, "../../../agent-dotnet/src/DeployBot.Agent");
  try {
    await run(
      "dotnet",
      ["publish", project, "-c", "Release", "-r", "linux-x64", "--self-contained", "-p:PublishSingleFile=true", "-m:1", "-o", out, "--nologo"],
      { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`dotnet publish of the agent failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
  return join(out, "deploybot-agent");
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { timeout: 60_000 });
  return stdout.trim();
}

/** Removes every container whose name starts with `prefix`. */
export async function removeContainers(prefix: string): Promise<void> {
  const names = (await docker("ps", "-a", "--filter", `name=^${prefix}`, "--format", "{{.Names}}")).split("\n").filter(Boolean);
  if (names.length) await docker("rm", "-f", ...names);
}

export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** Starts the published agent with the given environment (on top of a minimal one). */
export function startAgent(executable: string, env: Record<string, string>): AgentProcess {
  let log = "";
  const child = spawn(executable, [], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => (log += d));
  child.stderr?.on("data", (d) => (log += d));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return { child, output: () => log, exited };
}

export interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/**
 * Reads a text/event-stream response until the server closes it or `until` returns true for an event;
 * returns every event seen. Bounded by `timeoutMs`.
 */
export async function readSse(res: Response, until: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent[]> {
  if (!res.ok || !res.headers.get("content-type")?.startsWith("text/event-stream")) {
    throw new Error(`expected an event stream, got ${res.status} ${res.headers.get("content-type")}: ${await res.text()}`);
  }
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const timer = setTimeout(() => void reader.cancel("timeout"), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: "message", data: null };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.event = text;
          else if (field === "id") event.id = text;
          else if (field === "data") data.push(text);
        }
        if (data.length === 0) continue;
        event.data = JSON.parse(data.join("\n"));
        events.push(event);
        if (until(event)) {
          await reader.cancel();
          return events;
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` every `everyMs` until it returns a value, or throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}
