import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

/**
 * Headers on every answer of the Worker: `nosniff`, so no answer is read as another type than it
 * says, and `no-store`, so no cache between the client and DeployBot keeps jobs, logs or config.
 * A route that sets Cache-Control itself keeps its own.
 */
export function apiHeaders(): MiddlewareHandler<AppEnv> {
  return async function apiHeadersMiddleware(c, next) {
    await next();
    // A WebSocket upgrade is the host object's own answer, with immutable headers and no body to sniff.
    if (c.res.status === 101) return;
    // Answers passed on from a Durable Object's fetch() have immutable headers: copy them first.
    if (!isMutable(c.res.headers)) c.res = new Response(c.res.body, c.res);
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

function isMutable(headers: Headers): boolean {
  try {
    headers.set("X-Content-Type-Options", "nosniff");
    return true;
  } catch {
    return false;
  }
}
