import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

/**
 * One JSON line per request through the Workers console, where `wrangler tail`
 * and Logpush read it. Routes are logged as patterns (/v1/jobs/:id), never with
 * query strings, so tokens in `access_token` never reach a log.
 */
export function requestLog(): MiddlewareHandler<AppEnv> {
  return async function requestLogMiddleware(c, next) {
    const started = Date.now();
    const requestId = c.req.header("cf-ray") ?? crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? "error" : "info",
        msg: "request",
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        duration_ms: Date.now() - started,
        request_id: requestId,
      }),
    );
  };
}
