import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { loadRunningConfig } from "../config/current";
import { decodeCursor, jobLogLines, listJobs } from "../db/queries";
import { ApiError } from "../errors";
import { queueDeploy } from "../host/dispatch";
import { findJob, hostQueue } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { CreateJobBody, JobIdParam, JobListSchema, JobSchema, ListJobsQuery } from "../schemas/jobs";

const json = (schema: typeof JobSchema | typeof JobListSchema) => ({ "application/json": { schema } });

const createJob = createRoute({
  method: "post",
  path: "/v1/jobs",
  tags: ["jobs"],
  summary: "Queue a deploy of an app (or repo) at a ref on one host",
  description:
    "Without `sha`, deploys the newest commit GitHub pushed to that ref. The same app, ref, sha and host while queued or running answers 200 with the existing job.",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { body: { content: { "application/json": { schema: CreateJobBody } }, required: true } },
  responses: {
    201: { description: "Queued", content: json(JobSchema) },
    200: { description: "The same deploy is already queued or running", content: json(JobSchema) },
    ...errorResponses(400, 401, 404, 422),
  },
});

const listJobsRoute = createRoute({
  method: "get",
  path: "/v1/jobs",
  tags: ["jobs"],
  summary: "Job history, newest first",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { query: ListJobsQuery },
  responses: { 200: { description: "A page of jobs", content: json(JobListSchema) }, ...errorResponses(400, 401) },
});

const getJobRoute = createRoute({
  method: "get",
  path: "/v1/jobs/{id}",
  tags: ["jobs"],
  summary: "One job",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: JobIdParam },
  responses: { 200: { description: "The job", content: json(JobSchema) }, ...errorResponses(401, 404) },
});

const cancelJob = createRoute({
  method: "post",
  path: "/v1/jobs/{id}/cancel",
  tags: ["jobs"],
  summary: "Cancel a job",
  description: "A queued job is cancelled at once (200). A running job's agent is told on its next heartbeat (202).",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: JobIdParam },
  responses: {
    200: { description: "Cancelled", content: json(JobSchema) },
    202: { description: "Cancel requested; the agent will stop the job", content: json(JobSchema) },
    ...errorResponses(401, 404, 409),
  },
});

const LogLineOut = z.object({
  pos: z.number().int(),
  job_id: z.string(),
  attempt: z.number().int(),
  seq: z.number().int(),
  ts: z.string(),
  stream: z.string(),
  text: z.string(),
});

const jobLogsRoute = createRoute({
  method: "get",
  path: "/v1/jobs/{id}/logs",
  tags: ["jobs"],
  summary: "A job's stored log lines (for live lines, /v1/logs/stream)",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: {
    params: JobIdParam,
    query: z.object({
      after: z.coerce.number().int().min(0).default(0).openapi({ description: "pos of the last line already seen" }),
      limit: z.coerce.number().int().min(1).max(5000).default(1000),
    }),
  },
  responses: {
    200: {
      description: "Lines in order; `next_after` pages on while there may be more",
      content: { "application/json": { schema: z.object({ lines: z.array(LogLineOut), next_after: z.number().int().nullable() }).openapi("JobLogs") } },
    },
    ...errorResponses(400, 401, 404),
  },
});

export const jobsRouter = createRouter()
  .openapi(createJob, async (c) => {
    const { config } = await loadRunningConfig(c.env.DB);
    const result = await queueDeploy(c.env, config, c.req.valid("json"));
    return c.json(result.job, result.created ? 201 : 200);
  })
  .openapi(listJobsRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.cursor !== undefined && !decodeCursor(query.cursor)) {
      throw new ApiError(400, "invalid_cursor", "cursor is not one this API returned");
    }
    return c.json(await listJobs(drizzle(c.env.DB), query), 200);
  })
  .openapi(getJobRoute, async (c) => {
    const found = await findJob(c.env, c.req.valid("param").id);
    if (!found) throw new ApiError(404, "job_not_found", "no such job");
    return c.json(found.job, 200);
  })
  .openapi(jobLogsRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { after, limit } = c.req.valid("query");
    const found = await findJob(c.env, id);
    if (!found) throw new ApiError(404, "job_not_found", "no such job");
    // The host's object has every line of the jobs it keeps (some maybe not yet in D1); D1 has the rest.
    const lines = found.live
      ? await hostQueue(c.env, found.job.host).jobLogs(id, after, limit)
      : await jobLogLines(drizzle(c.env.DB), id, after, limit);
    return c.json({ lines, next_after: lines.length === limit ? lines.at(-1)!.pos : null }, 200);
  })
  .openapi(cancelJob, async (c) => {
    const { id } = c.req.valid("param");
    // Straight to the host's object, which has every job that can still be cancelled: no D1 needed.
    const found = await findJob(c.env, id);
    if (!found) throw new ApiError(404, "job_not_found", "no such job");
    const result = await hostQueue(c.env, found.job.host).cancel(id);
    switch (result.outcome) {
      case "cancelled":
        return c.json(result.job, 200);
      case "cancel_requested":
        return c.json(result.job, 202);
      case "already_finished":
        throw new ApiError(409, "job_finished", `job already ${result.job.status}`);
      case "not_found":
        throw new ApiError(404, "job_not_found", "no such job");
    }
  });
