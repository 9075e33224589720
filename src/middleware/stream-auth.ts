import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { checkTicket } from "../stream-ticket";
import { auth } from "./auth";

const tokenAuth = auth({ tokens: (env) => env.DEPLOYBOT_API_TOKENS, allowQueryToken: true });

/**
 * Auth for the live stream: a `ticket` (POST /v1/logs/tickets) for exactly the job or rollout
 * it names, or else the API token (header, or `access_token` for compatibility).
 */
export const streamAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ticket = c.req.query("ticket");
  if (ticket === undefined) return tokenAuth(c, next);
  const check = await checkTicket(c.env.DEPLOYBOT_API_TOKENS ?? "", ticket);
  if (!check.ok) throw new ApiError(401, "unauthorized", check.reason === "expired" ? "stream ticket expired" : "invalid stream ticket");
  const asked = c.req.query(check.scope.kind === "job" ? "job_id" : "rollout_id");
  const others = ["job_id", "rollout_id", "host"].filter((name) => name !== `${check.scope.kind}_id` && c.req.query(name) !== undefined);
  if (asked !== check.scope.id || others.length) {
    throw new ApiError(403, "forbidden", `this ticket opens the stream of ${check.scope.kind} ${check.scope.id} only`);
  }
  await next();
};
