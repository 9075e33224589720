import type { MiddlewareHandler } from "hono";
import { drizzle } from "drizzle-orm/d1";
import { secretsEqual, sha256Hex } from "../crypto";
import { getAgent } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError, REVOKED_MESSAGE } from "../errors";
import { bearerToken } from "./auth";

export interface AgentAuthOptions {
  /** The route's `:id` names an agent, which must be the token's own (else 403). */
  pathIsAgent?: boolean;
  /** How long a verified agent is remembered in this isolate, to spare D1 a read per heartbeat. */
  cacheMs?: number;
}

/** An agent token is `<agent_id>.<secret>`: the id routes the lookup, the whole token is checked by hash. */
export function agentIdOfToken(token: string): string | null {
  const dot = token.indexOf(".");
  return dot > 0 ? token.slice(0, dot) : null;
}

/**
 * Agents this isolate has verified, shared by every route (registration data never changes;
 * a revocation reaches other isolates when their entry expires, and the host's object refuses
 * a revoked agent at once meanwhile).
 */
const verified = new Map<string, { hostname: string; tokenHash: string; revoked: boolean; until: number }>();

/** Forgets a cached agent in this isolate (after revoking it). */
export function forgetAgent(agentId: string): void {
  verified.delete(agentId);
}

/**
 * Authenticates an agent by its own token (only a SHA-256 of it is stored) and
 * sets `c.var.agent`. With `pathIsAgent`, a valid token for another agent is 403.
 */
export function agentAuth({ pathIsAgent = false, cacheMs = 60_000 }: AgentAuthOptions = {}): MiddlewareHandler<AppEnv> {
  return async function agentAuthMiddleware(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    const agentId = token ? agentIdOfToken(token) : null;
    if (!token || !agentId) throw new ApiError(401, "unauthorized", "missing or malformed agent token");
    const tokenHash = await sha256Hex(token);
    const now = Date.now();

    let known = verified.get(agentId);
    if (!known || known.until < now) {
      try {
        const agent = await getAgent(drizzle(c.env.DB), agentId);
        if (!agent) throw new ApiError(401, "unauthorized", "unknown agent or invalid token");
        known = { hostname: agent.hostname, tokenHash: agent.tokenHash, revoked: Boolean(agent.revokedAt), until: now + cacheMs };
        verified.set(agentId, known);
      } catch (err) {
        // D1 down: an agent this isolate already verified keeps working (jobs do not need D1).
        if (err instanceof ApiError || !known) throw err;
      }
    }
    if (!(await secretsEqual(tokenHash, known.tokenHash))) {
      throw new ApiError(401, "unauthorized", "unknown agent or invalid token");
    }
    if (known.revoked) throw new ApiError(401, "agent_revoked", REVOKED_MESSAGE);
    if (pathIsAgent && c.req.param("id") !== agentId) {
      throw new ApiError(403, "forbidden", "this token belongs to another agent");
    }
    c.set("agent", { id: agentId, hostname: known.hostname });
    await next();
  };
}
