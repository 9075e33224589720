import { createRoute } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import type { Context } from "hono";
import { getJob } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError, REVOKED_MESSAGE } from "../errors";
import type { ReportResult } from "../host/contract";
import { hostQueue } from "../host/stub";
import { agentAuth } from "../middleware/agent-auth";
import { createRouter } from "../openapi";
import { LogsBody, StatusBody } from "../schemas/agents";
import { errorResponses } from "../schemas/common";
import { hostOfJobId, JobIdParam, JobSchema } from "../schemas/jobs";

const reportStatus = createRoute({
  method: "post",
  path: "/v1/jobs/{id}/status",
  tags: ["agents"],
  summary: "The running agent reports a job's status",
  description:
    "`running` confirms the job started (and renews the lease); `succeeded` or `failed` end it. While a cancel is pending, `failed` ends the job as `cancelled`. " +
    "A repeated final report answers 200 again; a report about an attempt the agent no longer holds answers 409.",
  security: [{ agentToken: [] }],
  middleware: [agentAuth()] as const,
  request: { params: JobIdParam, body: { content: { "application/json": { schema: StatusBody } }, required: true } },
  responses: {
    200: { description: "The job after the report", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const appendLogs = createRoute({
  method: "post",
  path: "/v1/jobs/{id}/logs",
  tags: ["agents"],
  summary: "The running agent sends a batch of log lines",
  description: "Lines carry `seq` (1, 2, 3… per attempt). A repeated seq is ignored, so a batch can be resent until it is acknowledged. Renews the lease.",
  security: [{ agentToken: [] }],
  middleware: [agentAuth()] as const,
  request: { params: JobIdParam, body: { content: { "application/json": { schema: LogsBody } }, required: true } },
  responses: {
    204: { description: "Stored" },
    ...errorResponses(400, 401, 403, 404, 409, 413, 422),
  },
});

/** Maps the host object's verdict on an agent's report to the HTTP answer. */
async function settle(c: Context<AppEnv>, jobId: string, result: ReportResult) {
  switch (result.outcome) {
    case "log_refused":
      throw new ApiError(result.status, result.code, result.message);
    case "ok":
      return result.job;
    case "stale":
      throw new ApiError(409, "stale_report", result.reason);
    case "forbidden":
      throw new ApiError(403, "forbidden", "this job is held by another agent");
    case "revoked":
      throw new ApiError(401, "agent_revoked", REVOKED_MESSAGE);
    case "not_found":
      // Not on this agent's host: another host's job is 403, an unknown one 404.
      if (await isAnotherHostsJob(c, jobId)) throw new ApiError(403, "forbidden", "this job belongs to another host");
      throw new ApiError(404, "job_not_found", "no such job");
  }
}

/** The id names another host (ids of old jobs do not: D1 knows). */
async function isAnotherHostsJob(c: Context<AppEnv>, jobId: string): Promise<boolean> {
  const host = hostOfJobId(jobId);
  if (host) return host !== c.get("agent")!.hostname;
  return (await getJob(drizzle(c.env.DB), jobId)) !== null;
}

export const agentJobsRouter = createRouter()
  .openapi(reportStatus, async (c) => {
    const agent = c.get("agent")!;
    const { id } = c.req.valid("param");
    const result = await hostQueue(c.env, agent.hostname).report(agent.id, id, c.req.valid("json"));
    return c.json(await settle(c, id, result), 200);
  })
  .openapi(appendLogs, async (c) => {
    const agent = c.get("agent")!;
    const { id } = c.req.valid("param");
    const { lines, attempt } = c.req.valid("json");
    await settle(c, id, await hostQueue(c.env, agent.hostname).appendLogs(agent.id, id, lines, attempt));
    return c.body(null, 204);
  });
