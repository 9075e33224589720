import { createRoute } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { newToken, sha256Hex } from "../crypto";
import { getAgent, insertAgent, revokeAgent } from "../db/queries";
import { ApiError, REVOKED_MESSAGE } from "../errors";
import { agentAuth, forgetAgent } from "../middleware/agent-auth";
import { apiAuth } from "../middleware/auth";
import { enrollAuth } from "../middleware/enroll-auth";
import { consumeEnrollToken } from "../db/enroll-tokens";
import { hostQueue } from "../host/stub";
import { createRouter } from "../openapi";
import {
  AgentIdParam,
  HeartbeatBody,
  HeartbeatQuery,
  HeartbeatResponse,
  RegisterBody,
  RegisterResponse,
  RevokeResponse,
} from "../schemas/agents";
import { errorResponses } from "../schemas/common";

/** Seconds between heartbeats an agent should keep when it does not long-poll. */
export const HEARTBEAT_INTERVAL_S = 10;

const register = createRoute({
  method: "post",
  path: "/v1/agents/register",
  tags: ["agents"],
  summary: "Register an agent with the enroll token or a host-bound enrollment token",
  description:
    "A host-bound token (`POST /v1/agents/enroll-tokens`) registers only its own host (403 otherwise, nothing stored); " +
    "expired or already-spent tokens answer 401.",
  security: [{ enrollToken: [] }],
  middleware: [enrollAuth] as const,
  request: { body: { content: { "application/json": { schema: RegisterBody } }, required: true } },
  responses: {
    201: { description: "Registered; keep the token, it is shown once", content: { "application/json": { schema: RegisterResponse } } },
    ...errorResponses(400, 401, 403, 422),
  },
});

const heartbeat = createRoute({
  method: "post",
  path: "/v1/agents/{id}/heartbeat",
  tags: ["agents"],
  summary: "Heartbeat; hands out at most one job",
  security: [{ agentToken: [] }],
  middleware: [agentAuth({ pathIsAgent: true })] as const,
  request: {
    params: AgentIdParam,
    query: HeartbeatQuery,
    body: { content: { "application/json": { schema: HeartbeatBody } }, required: false },
  },
  responses: {
    200: { description: "The next job for this agent's host, if any, and jobs to cancel", content: { "application/json": { schema: HeartbeatResponse } } },
    ...errorResponses(400, 401, 403),
  },
});

const revoke = createRoute({
  method: "delete",
  path: "/v1/agents/{id}",
  tags: ["agents"],
  summary: "Revoke an agent: its token is refused from now on",
  description:
    "For a lost or compromised machine. The agent's heartbeats, reports, logs and push channel answer 401 `agent_revoked` at once; " +
    "the jobs it runs end failed with error `agent_revoked`. The machine can register again with the enroll token, as a new agent.",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: AgentIdParam },
  responses: {
    200: { description: "Revoked (again: the first time is kept)", content: { "application/json": { schema: RevokeResponse } } },
    ...errorResponses(401, 404),
  },
});

export const agentsRouter = createRouter()
  .openapi(register, async (c) => {
    const { hostname, version, previous_agent_id: previousId } = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const bound = c.get("enrollToken");
    if (bound && bound.host !== hostname) {
      throw new ApiError(403, "enroll_token_host_mismatch", `this enrollment token registers host ${bound.host} only`);
    }
    const previous = previousId ? await getAgent(db, previousId) : null;
    if (previousId) {
      // The same machine lost its state file: whatever its old identity was running cannot finish.
      if (previous && previous.hostname !== hostname) {
        throw new ApiError(422, "previous_agent_mismatch", `agent ${previousId} belongs to host ${previous.hostname}, not ${hostname}`);
      }
      if (previous?.revokedAt) {
        // An agent that re-registers on its own after a revocation would undo it: that takes a person.
        throw new ApiError(403, "agent_revoked", `agent ${previousId} was revoked; to register this machine again, delete the agent's state file first`);
      }
    }
    // Spent before anything is stored: of two registrations racing with one token, one wins.
    if (bound?.singleUse && !(await consumeEnrollToken(db, bound.hash, new Date().toISOString()))) {
      throw new ApiError(401, "unauthorized", "enrollment token already used");
    }
    if (previousId && previous) await hostQueue(c.env, hostname).agentRestarted(previousId);
    const agentId = crypto.randomUUID();
    // The token carries the agent id so job routes can find the agent; only its hash is stored.
    const token = `${agentId}.${newToken("dbt")}`;
    await insertAgent(db, {
      id: agentId,
      hostname,
      version,
      tokenHash: await sha256Hex(token),
      createdAt: new Date().toISOString(),
    });
    return c.json({ agent_id: agentId, token, heartbeat_interval_s: HEARTBEAT_INTERVAL_S }, 201);
  })
  .openapi(heartbeat, async (c) => {
    const agent = c.get("agent")!;
    const { wait } = c.req.valid("query");
    const body = c.req.header("content-type")?.startsWith("application/json") ? c.req.valid("json") : {};
    const queue = hostQueue(c.env, agent.hostname);
    // A long poll whose client hung up must not be handed a job nobody would receive.
    const signal = c.req.raw.signal;
    const hungUp = () => c.executionCtx.waitUntil(queue.abandonPolls(agent.id).catch(() => undefined));
    if (wait > 0) signal.addEventListener("abort", hungUp, { once: true });
    try {
      const { revoked, ...result } = await queue.heartbeat(agent.id, { runningJobId: body.running_job_id ?? null, waitMs: wait * 1000 });
      if (revoked) throw new ApiError(401, "agent_revoked", REVOKED_MESSAGE);
      return c.json(result, 200);
    } finally {
      signal.removeEventListener("abort", hungUp);
    }
  })
  .openapi(revoke, async (c) => {
    const { id } = c.req.valid("param");
    // D1 first: should the host's object be unreachable now, the revoke can be sent again.
    const agent = await revokeAgent(drizzle(c.env.DB), id, new Date().toISOString());
    if (!agent) throw new ApiError(404, "agent_not_found", "no such agent");
    forgetAgent(id);
    const { failed } = await hostQueue(c.env, agent.hostname).revokeAgent(id);
    return c.json({ agent_id: id, hostname: agent.hostname, revoked_at: agent.revokedAt!, failed_jobs: failed }, 200);
  });

const connect = createRoute({
  method: "get",
  path: "/v1/agents/{id}/connect",
  tags: ["agents"],
  summary: "Push channel: a WebSocket instead of long-polling",
  description:
    "Upgrade to a WebSocket. Send `{\"type\":\"heartbeat\",\"running_job_id\":…}` as HTTP heartbeats would; jobs (`{\"type\":\"job\",\"job\"}`) and cancels " +
    "(`{\"type\":\"cancel\",\"cancel\"}`) are pushed the moment they exist. The host's Durable Object hibernates between messages. Long-polling stays available.",
  security: [{ agentToken: [] }],
  middleware: [agentAuth({ pathIsAgent: true })] as const,
  request: { params: AgentIdParam },
  responses: { 101: { description: "Switching to WebSocket" }, ...errorResponses(401, 403, 426) },
});

agentsRouter.openapi(connect, async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "upgrade_required", "this route speaks WebSocket (Upgrade: websocket)");
  }
  const agent = c.get("agent")!;
  const params = new URLSearchParams({ agent_id: agent.id });
  // The object's 101 answer carries the socket straight to the agent.
  return (await hostQueue(c.env, agent.hostname).fetch(`https://host-queue/agent?${params}`, {
    headers: { upgrade: "websocket" },
  })) as never;
});
