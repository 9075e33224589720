import { createRoute } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { newToken, sha256Hex } from "../crypto";
import { getAgent, insertAgent } from "../db/queries";
import { ApiError } from "../errors";
import { agentAuth } from "../middleware/agent-auth";
import { auth } from "../middleware/auth";
import { hostQueue } from "../host/stub";
import { createRouter } from "../openapi";
import {
  AgentIdParam,
  HeartbeatBody,
  HeartbeatQuery,
  HeartbeatResponse,
  RegisterBody,
  RegisterResponse,
} from "../schemas/agents";
import { errorResponses } from "../schemas/common";

/** Seconds between heartbeats an agent should keep when it does not long-poll. */
export const HEARTBEAT_INTERVAL_S = 10;

const register = createRoute({
  method: "post",
  path: "/v1/agents/register",
  tags: ["agents"],
  summary: "Register an agent with the enroll token",
  security: [{ enrollToken: [] }],
  middleware: [auth({ tokens: (env) => env.AGENT_ENROLL_TOKEN, realm: "deploybot-enroll" })] as const,
  request: { body: { content: { "application/json": { schema: RegisterBody } }, required: true } },
  responses: {
    201: { description: "Registered; keep the token, it is shown once", content: { "application/json": { schema: RegisterResponse } } },
    ...errorResponses(400, 401, 422),
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

export const agentsRouter = createRouter()
  .openapi(register, async (c) => {
    const { hostname, version, previous_agent_id: previousId } = c.req.valid("json");
    const db = drizzle(c.env.DB);
    if (previousId) {
      // The same machine lost its state file: whatever its old identity was running cannot finish.
      const previous = await getAgent(db, previousId);
      if (previous && previous.hostname !== hostname) {
        throw new ApiError(422, "previous_agent_mismatch", `agent ${previousId} belongs to host ${previous.hostname}, not ${hostname}`);
      }
      if (previous) await hostQueue(c.env, hostname).agentRestarted(previousId);
    }
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
      const result = await queue.heartbeat(agent.id, { runningJobId: body.running_job_id ?? null, waitMs: wait * 1000 });
      return c.json(result, 200);
    } finally {
      signal.removeEventListener("abort", hungUp);
    }
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
