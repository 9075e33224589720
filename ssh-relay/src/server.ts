import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createBearerCheck } from "./auth.ts";
import { summarize, type DeployOptions } from "./deploy-contract.ts";
import { runDeploy } from "./deploy.ts";
import { RelayError, toErrorBody } from "./errors.ts";
import { silentLogger, type Logger } from "./log.ts";
import { collectMetrics } from "./metrics.ts";
import type { SshPool } from "./pool.ts";
import { parseDeployRequest, parseExecRequest, parseMetricsRequest, parseReachabilityRequest } from "./request.ts";
import { createPoolRunner } from "./runner.ts";

export interface RelayServerOptions {
  /** SSH_RELAY_TOKEN: the bearer token the Worker shows. */
  token: string;
  pool: SshPool;
  logger?: Logger;
  /** Largest request body accepted (413 above). */
  maxBodyBytes?: number;
  /** Deploy timings (tests shorten them). */
  deployOptions?: Pick<DeployOptions, "pollIntervalMs" | "pullTimeoutMs" | "rollbackTimeoutMs" | "settleMs" | "stopGraceS">;
}

/** Deploys in flight, by job id, so that `POST /v1/deploy/{job_id}/cancel` can reach them. */
type RunningDeploys = Map<string, AbortController>;

const CANCEL_PATH = /^\/v1\/deploy\/([^/]+)\/cancel$/;

/**
 * The relay's HTTP server (docs/ssh-relay-api.md) on node:http: five routes
 * do not need a router. Errors before a stream starts are
 * `{"error": {"code", "message"}}`; streaming answers are NDJSON, one object
 * per line, written as output arrives.
 */
export function createRelayServer({ token, pool, logger = silentLogger, maxBodyBytes = 1024 * 1024, deployOptions = {} }: RelayServerOptions): Server {
  const isAuthorized = createBearerCheck(token);
  const deploys: RunningDeploys = new Map();

  return createServer(async function handle(req, res) {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://relay");
    res.on("close", () => {
      logger.info("request", { method: req.method, path: url.pathname, status: res.statusCode, duration_ms: Math.round(performance.now() - started) });
    });
    try {
      if (url.pathname === "/health") {
        if (req.method !== "GET" && req.method !== "HEAD") throw new RelayError("method_not_allowed", "use GET");
        // The status is public; which targets the relay talks to is not.
        const body = isAuthorized(req.headers.authorization)
          ? { status: "ok", pool: pool.info().map(({ name, connected, since, connects, active_commands }) => ({ name, connected, since, connects, active_commands })) }
          : { status: "ok" };
        return sendJson(res, 200, body);
      }
      const route = routeOf(url.pathname);
      if (!route) throw new RelayError("not_found", `no route ${url.pathname}`);
      if (req.method !== "POST") throw new RelayError("method_not_allowed", `use POST for ${url.pathname}`);
      if (!isAuthorized(req.headers.authorization)) throw new RelayError("unauthorized", "missing or wrong bearer token");

      if (route.name === "cancel") {
        // Decoded only now, after the token check: a bad % escape from a stranger learns nothing but 401.
        const jobId = decodeJobId(route.encodedJobId);
        await readBody(req, maxBodyBytes).catch(() => undefined);
        const controller = deploys.get(jobId);
        if (!controller) throw new RelayError("not_found", `no deploy of job ${jobId} is running`);
        logger.info("deploy cancel requested", { job_id: jobId });
        controller.abort();
        return sendJson(res, 200, { cancelled: true });
      }

      const body = await readBody(req, maxBodyBytes);
      if (route.name === "exec") return await handleExec(res, body);
      if (route.name === "deploy") return await handleDeploy(res, body);
      // Answers at once with what the pool knows; targets it knows nothing recent about are checked meanwhile.
      if (route.name === "reachability") return sendJson(res, 200, { hosts: pool.reach(parseReachabilityRequest(body).targets) });
      return await handleMetrics(res, body);
    } catch (err) {
      if (!(err instanceof RelayError)) logger.error("unexpected error", { path: url.pathname, error: (err as Error)?.message });
      if (res.headersSent) {
        res.end();
        return;
      }
      const { status, body } = toErrorBody(err);
      sendJson(res, status, body);
    }
  });

  async function handleExec(res: ServerResponse, body: unknown): Promise<void> {
    const input = parseExecRequest(body);
    const stream = startNdjson(res);
    const gone = abortOnDisconnect(res);
    logger.info("exec", { target: input.target.name, command_bytes: Buffer.byteLength(input.command), timeout_ms: input.timeoutMs });
    try {
      const result = await pool.exec(input.target, input.command, {
        timeoutMs: input.timeoutMs,
        maxOutputBytes: input.maxOutputBytes,
        onStdout: (data) => stream.write({ type: "stdout", data }),
        onStderr: (data) => stream.write({ type: "stderr", data }),
        signal: gone.signal,
      });
      stream.write({
        type: "exit",
        exit_code: result.exitCode,
        duration_ms: result.durationMs,
        truncated: result.truncated,
        ...(result.signal ? { signal: result.signal } : {}),
      });
      logger.info("exec done", { target: input.target.name, exit_code: result.exitCode, duration_ms: result.durationMs, truncated: result.truncated });
    } catch (err) {
      const { code, message } = describe(err);
      logger.warn("exec failed", { target: input.target.name, code, error: message });
      stream.write({ type: "error", code, message });
    } finally {
      stream.end();
    }
  }

  async function handleDeploy(res: ServerResponse, body: unknown): Promise<void> {
    const input = parseDeployRequest(body);
    if (deploys.has(input.jobId)) throw new RelayError("deploy_running", `a deploy of job ${input.jobId} is already running`);
    const controller = new AbortController();
    deploys.set(input.jobId, controller);
    const fields = { target: input.target.name, job_id: input.jobId, attempt: input.attempt, container: input.deploy.container };
    try {
      const stream = startNdjson(res);
      // Nobody can learn the outcome once the Worker hangs up, so a deploy
      // whose caller is gone is cancelled (and rolled back) rather than left
      // to finish unobserved.
      const gone = abortOnDisconnect(res);
      gone.signal.addEventListener("abort", () => controller.abort(), { once: true });
      logger.info("deploy started", fields);
      try {
        await pool.connection(input.target);
      } catch (err) {
        const { code, message } = describe(err);
        logger.warn("deploy could not reach the target", { ...fields, code, error: message });
        stream.write({ type: "error", code, message });
        stream.end();
        return;
      }
      const result = await runDeploy({
        ...deployOptions,
        run: createPoolRunner({ pool, target: input.target }),
        request: input,
        signal: controller.signal,
        log: (logStream, text) => stream.write({ type: "log", stream: logStream, text, ts: new Date().toISOString() }),
      });
      logger.info("deploy finished", { ...fields, status: result.status, step: result.step, rolled_back: result.rolled_back, error: result.error });
      stream.write({ type: "result", ...result, summary: summarize(result) });
      stream.end();
    } finally {
      deploys.delete(input.jobId);
    }
  }

  async function handleMetrics(res: ServerResponse, body: unknown): Promise<void> {
    const { target } = parseMetricsRequest(body);
    try {
      const metrics = await collectMetrics(createPoolRunner({ pool, target }));
      sendJson(res, 200, metrics);
    } catch (err) {
      const { code, message } = describe(err);
      logger.warn("metrics failed", { target: target.name, code, error: message });
      sendJson(res, 502, { error: { code, message } });
    }
  }
}

function routeOf(pathname: string): { name: "exec" | "deploy" | "metrics" | "reachability" } | { name: "cancel"; encodedJobId: string } | null {
  if (pathname === "/v1/exec") return { name: "exec" };
  if (pathname === "/v1/reachability") return { name: "reachability" };
  if (pathname === "/v1/deploy") return { name: "deploy" };
  if (pathname === "/v1/metrics") return { name: "metrics" };
  const cancel = CANCEL_PATH.exec(pathname);
  if (cancel) return { name: "cancel", encodedJobId: cancel[1]! };
  return null;
}

/** A job id from the path, percent-decoded; a malformed escape is the caller's mistake (400), not the relay's. */
function decodeJobId(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new RelayError("invalid_request", "the job id in the path has a malformed % escape");
  }
}

/** A failure as an NDJSON `error` line's code and message; unknown errors reveal nothing. */
function describe(err: unknown): { code: string; message: string } {
  if (err instanceof RelayError) {
    if (err.code === "cancelled") return { code: "ssh_error", message: "the command was stopped because the request was cancelled" };
    return { code: err.code, message: err.message };
  }
  return { code: "ssh_error", message: "internal error" };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

function startNdjson(res: ServerResponse): { write(value: unknown): void; end(): void } {
  res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
  // Send the headers now, so the caller sees the stream start before any output.
  res.flushHeaders();
  return {
    write(value) {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(value)}\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}

/** An AbortSignal that fires when the client goes away before the answer is complete. */
function abortOnDisconnect(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) {
    req.resume();
    throw new RelayError("payload_too_large", `the body is larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new RelayError("payload_too_large", `the body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RelayError("invalid_json", "the body is not JSON");
  }
}
