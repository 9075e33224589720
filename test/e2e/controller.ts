import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Secrets the controller under test runs with. */
export const E2E_SECRETS = {
  GITHUB_WEBHOOK_SECRET: "e2e-webhook-secret",
  DEPLOYBOT_API_TOKENS: "e2e-admin-token",
  AGENT_ENROLL_TOKEN: "e2e-enroll-token",
};

export interface Controller {
  url: string;
  port: number;
  /** What serves the Worker, in words (for reports). */
  runtime: string;
  /** Stops wrangler dev (the state stays in `stateDir` for a restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port and state. */
  restart(): Promise<void>;
  /** Stops it and deletes its state. */
  dispose(): Promise<void>;
  /** kill -9 of wrangler dev and its workerd (no graceful shutdown), then start again on the same state. */
  crashAndRestart(): Promise<void>;
  /** The local D1 database file (for fault injection). */
  d1File(): string;
  /** Resident memory of the controller's processes (wrangler and workerd), in bytes, by command name. */
  memory(): Record<string, number>;
  stateDir: string;
  output: () => string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log()}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`controller did not answer /health within ${timeoutMs} ms:\n${log()}`);
}

/**
 * Runs the real controller with `wrangler dev` (local workerd, D1 and Durable
 * Objects) on 127.0.0.1, with its own state directory and the E2E secrets.
 * Migrations are applied first, as `npm start` does.
 */
export interface ControllerOptions {
  port?: number;
  stateDir?: string;
  /** More variables for the Worker (for example SSH_RELAY_URL and SSH_RELAY_TOKEN). */
  vars?: Record<string, string>;
  /**
   * What serves the Worker: `wrangler dev` (the default: the dev server, with its inspector session), or
   * `workerd`, the production bundle (`wrangler deploy --dry-run`) run by workerd alone as `npm start` runs
   * it (scripts/local-worker.mjs), with workerd's own V8 settings unless `v8Flags` names some.
   */
  runtime?: "wrangler-dev" | "workerd";
  v8Flags?: string;
}

export async function startController(options: ControllerOptions = {}): Promise<Controller> {
  // A free port can be taken by someone else before wrangler binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt >= 3 || options.port !== undefined) throw err;
    }
  }
}

async function startOnce(options: ControllerOptions): Promise<Controller> {
  const port = options.port ?? (await freePort());
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "deploybot-e2e-"));
  const varsFile = join(stateDir, "e2e.vars");
  const vars = { ...E2E_SECRETS, ...options.vars };
  writeFileSync(varsFile, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  const persist = join(stateDir, "state");
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };

  const migrate = spawn("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--config", "wrangler.dev.toml", "--persist-to", persist], { env, stdio: "pipe" });
  let migrateLog = "";
  migrate.stdout?.on("data", (d) => (migrateLog += d));
  migrate.stderr?.on("data", (d) => (migrateLog += d));
  const code = await new Promise<number | null>((resolve) => migrate.on("exit", resolve));
  if (code !== 0) throw new Error(`migrations failed:\n${migrateLog}`);

  let child: ChildProcess;
  let log = "";
  const url = `http://127.0.0.1:${port}`;

  // The production bundle is built once; each launch runs workerd on it.
  const outdir = join(stateDir, "worker");
  const workerdLog = join(stateDir, "workerd.log");
  if (options.runtime === "workerd") {
    const { prepareWorker } = await import("../../scripts/local-worker.mjs");
    prepareWorker("wrangler.dev.toml", outdir, { stateDir: persist, vars, v8Flags: options.v8Flags ?? "" });
  }

  const launch = async () => {
    if (options.runtime === "workerd") {
      const { runWorker } = await import("../../scripts/local-worker.mjs");
      child = await runWorker({ outdir, port, logFile: workerdLog, quiet: true });
      return;
    }
    child = spawn(
      "npx",
      ["wrangler", "dev", "--config", "wrangler.dev.toml", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persist, "--env-file", varsFile, "--show-interactive-dev-session=false"],
      { env, stdio: "pipe", detached: true },
    );
    child.stdout?.on("data", (d) => (log += d));
    child.stderr?.on("data", (d) => (log += d));
    await waitForHealth(url, child, () => log, 60_000);
  };

  // wrangler dev leads a process group (its workerd with it); workerd alone is one process.
  const signalChild = (signal: NodeJS.Signals) => {
    try {
      if (options.runtime === "workerd") child.kill(signal);
      else process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.on("exit", r));
    signalChild(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) signalChild("SIGKILL");
  };

  await launch();
  return {
    url,
    port,
    runtime: options.runtime === "workerd" ? `workerd alone on the production bundle, as \`npm start\` runs it (V8 flags: ${options.v8Flags || "workerd's defaults"})` : "`wrangler dev`",
    stateDir,
    output: () => (options.runtime === "workerd" ? (existsSync(workerdLog) ? readFileSync(workerdLog, "utf8") : "") : log),
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
    crashAndRestart: async () => {
      await stop("SIGKILL");
      await launch();
    },
    memory: () => {
      const out = spawnSync("ps", ["-o", "rss=,comm=", options.runtime === "workerd" ? "-p" : "-g", String(child.pid)], { encoding: "utf8" }).stdout;
      const sizes: Record<string, number> = {};
      for (const line of out.trim().split("\n")) {
        const [rss, comm] = line.trim().split(/\s+/, 2);
        if (rss && comm) sizes[comm] = (sizes[comm] ?? 0) + Number(rss) * 1024;
      }
      return sizes;
    },
    d1File: () => {
      const dir = join(persist, "v3", "d1", "miniflare-D1DatabaseObject");
      const file = readdirSync(dir).find((f) => f.endsWith(".sqlite"));
      if (!file) throw new Error(`no D1 database under ${dir}`);
      return join(dir, file);
    },
  };
}

/** Signs and sends a GitHub push webhook to the controller. */
export async function sendPush(controller: Controller, push: { repo: string; ref: string; sha: string }, delivery = crypto.randomUUID()) {
  const body = JSON.stringify({ ref: push.ref, after: push.sha, repository: { full_name: push.repo } });
  const { createHmac } = await import("node:crypto");
  const signature = createHmac("sha256", E2E_SECRETS.GITHUB_WEBHOOK_SECRET).update(body).digest("hex");
  return fetch(`${controller.url}/v1/webhooks/github`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${signature}`,
    },
  });
}

/** An admin API call. */
export async function api(controller: Controller, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${E2E_SECRETS.DEPLOYBOT_API_TOKENS}`);
  return fetch(`${controller.url}${path}`, { ...init, headers });
}

/** Polls GET /v1/jobs/{id} until the job ended (succeeded, failed or cancelled) and returns it. */
export async function waitForJobEnd(controller: Controller, jobId: string, ms = 120_000): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await api(controller, `/v1/jobs/${jobId}`);
    const job = res.status === 200 ? ((await res.json()) as { status: string }) : null;
    if (job && ["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
