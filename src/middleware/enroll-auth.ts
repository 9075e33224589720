import type { MiddlewareHandler } from "hono";
import { drizzle } from "drizzle-orm/d1";
import { secretsEqual, sha256Hex } from "../crypto";
import { getEnrollToken } from "../db/enroll-tokens";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { bearerToken } from "./auth";

/** Host-bound enrollment tokens carry this prefix; the global AGENT_ENROLL_TOKEN is any other string. */
export const ENROLL_TOKEN_PREFIX = "dbe";

function refuse(message: string): never {
  throw new ApiError(401, "unauthorized", message);
}

/**
 * Auth for agent registration: the global AGENT_ENROLL_TOKEN (when set), or a host-bound
 * enrollment token, which is looked up by its hash and handed to the route as `enrollToken`
 * (the route checks its host and spends it once the body is known).
 */
export const enrollAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const presented = bearerToken(c.req.header("authorization"));
  if (presented === null) {
    c.header("WWW-Authenticate", 'Bearer realm="deploybot-enroll"');
    refuse("missing bearer token");
  }
  const global = (c.env.AGENT_ENROLL_TOKEN ?? "").trim();
  if (global && (await secretsEqual(presented, global))) return next();
  // The lookup is by hash: the row's key is the digest, so timing says nothing about the token.
  const row = presented.startsWith(`${ENROLL_TOKEN_PREFIX}_`) ? await getEnrollToken(drizzle(c.env.DB), await sha256Hex(presented)) : null;
  if (!row) {
    c.header("WWW-Authenticate", 'Bearer realm="deploybot-enroll", error="invalid_token"');
    refuse("invalid bearer token");
  }
  if (row.expiresAt <= new Date().toISOString()) refuse("enrollment token expired");
  if (row.singleUse && row.usedAt) refuse("enrollment token already used");
  c.set("enrollToken", { hash: row.tokenHash, host: row.host, singleUse: row.singleUse });
  await next();
};
