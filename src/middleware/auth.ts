import type { MiddlewareHandler } from "hono";
import { secretsEqual } from "../crypto";
import type { AppEnv, Env } from "../env";
import { ApiError } from "../errors";

export interface AuthOptions {
  /** The accepted tokens, read from the bindings on each request (secrets can rotate). */
  tokens: (env: Env) => string | undefined;
  /** Also accept `?access_token=` (for browsers' EventSource, which cannot set headers). */
  allowQueryToken?: boolean;
  realm?: string;
}

/** The bearer token of a request, from the Authorization header (or the query, when allowed). */
export function bearerToken(header: string | undefined, queryToken?: string): string | null {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? queryToken ?? null;
}

/**
 * Bearer-token auth against a comma-separated list of secrets. Every candidate
 * is compared in constant time, and all of them are compared, so timing tells
 * nothing about which token (or how much of one) matched.
 */
export function auth({ tokens, allowQueryToken = false, realm = "deploybot" }: AuthOptions): MiddlewareHandler<AppEnv> {
  return async function authMiddleware(c, next) {
    const presented = bearerToken(c.req.header("authorization"), allowQueryToken ? c.req.query("access_token") : undefined);
    const accepted = (tokens(c.env) ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    if (presented === null) {
      c.header("WWW-Authenticate", `Bearer realm="${realm}"`);
      throw new ApiError(401, "unauthorized", "missing bearer token");
    }
    const matches = await Promise.all(accepted.map((token) => secretsEqual(presented, token)));
    if (!matches.includes(true)) {
      c.header("WWW-Authenticate", `Bearer realm="${realm}", error="invalid_token"`);
      throw new ApiError(401, "unauthorized", "invalid bearer token");
    }
    await next();
  };
}

/** Admin auth for the API and the CLI: any of DEPLOYBOT_API_TOKENS. */
export const apiAuth = auth({ tokens: (env) => env.DEPLOYBOT_API_TOKENS });
