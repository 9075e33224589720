import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Extra, non-secret detail attached to an error body (for example the line and column of config problems). */
export type ErrorDetails = Record<string, unknown> | unknown[];

/**
 * The one error type routes throw. `code` is stable and machine-readable;
 * `message` is for people and must never carry secrets or stack traces.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** What a revoked agent is told on every call (code `agent_revoked`, 401). */
export const REVOKED_MESSAGE = "this agent was revoked by an operator; the host can only come back as a new agent, registered by a person";

/** The spec's error body: `{"error": {"code", "message"}}`, plus `details` when there are any. */
export function errorBody(code: string, message: string, details?: ErrorDetails) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Errors of D1 or SQLite that mean "not now" rather than "broken". */
const STORAGE_DOWN = /D1_ERROR|SQLITE_BUSY|database is locked|Network connection lost|storage operation exceeded/i;

/** Longest error detail written to a log. */
const MAX_LOGGED_DETAIL = 300;

/**
 * What may be logged of an unexpected error. drizzle's query errors read
 * "Failed query: <sql>\nparams: <every bound value>", and those values can be a
 * whole apps.yaml with its env secrets, or a 20 MB ref: the parameters are
 * withheld, the driver's own cause is kept, and the detail is cut short.
 */
export function loggableDetail(err: Error): string {
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  const detail = err.message.startsWith("Failed query:")
    ? `failed query (parameters withheld)${cause ? `: ${cause}` : ""}`
    : err.message;
  return detail.length > MAX_LOGGED_DETAIL ? `${detail.slice(0, MAX_LOGGED_DETAIL)}…` : detail;
}

/**
 * `app.onError`: maps ApiError and Hono's HTTPException to the spec's shape;
 * storage outages become a 503 with Retry-After; anything else becomes a 500 that reveals nothing but the request id.
 */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "bad_request";
    return c.json(errorBody(code, err.message || "request refused"), status);
  }
  const requestId = c.get("requestId") as string | undefined;
  const detail = loggableDetail(err);
  if (STORAGE_DOWN.test(err.message)) {
    // D1 (or a Durable Object's storage) is unavailable: a retry later will do, and GitHub redelivers on 5xx.
    console.warn(JSON.stringify({ level: "warn", msg: "storage unavailable", request_id: requestId, detail }));
    c.header("Retry-After", "5");
    return c.json(errorBody("storage_unavailable", `storage is unavailable for a moment; retry (request ${requestId ?? "unknown"})`), 503);
  }
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", request_id: requestId, error: err.name, detail }),
  );
  return c.json(errorBody("internal_error", `internal error (request ${requestId ?? "unknown"})`), 500);
}
