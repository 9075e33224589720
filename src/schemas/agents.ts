import { z } from "@hono/zod-openapi";
import { HOST_NAME } from "./common";
import { JobSchema } from "./jobs";

export const RegisterBody = z
  .object({
    hostname: z.string().regex(HOST_NAME, "hostname must be 1-63 letters, digits, '.', '_' or '-'"),
    version: z.string().min(1).max(64),
    previous_agent_id: z.string().max(64).optional().openapi({
      description: "the id this agent had before it lost its state: jobs that agent was running fail at once (agent_restarted)",
    }),
  })
  .openapi("RegisterAgent");

export const RegisterResponse = z
  .object({ agent_id: z.string(), token: z.string(), heartbeat_interval_s: z.number().int() })
  .openapi("AgentRegistration");

export const AgentIdParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

export const RevokeResponse = z
  .object({
    agent_id: z.string(),
    hostname: z.string(),
    revoked_at: z.string().openapi({ description: "When it was first revoked (a second revoke changes nothing)" }),
    failed_jobs: z.array(z.string()).openapi({ description: "Jobs it was running, ended now with error `agent_revoked`" }),
  })
  .openapi("AgentRevoked");

export const HeartbeatBody = z
  .object({ running_job_id: z.string().nullable().optional() })
  .openapi("Heartbeat");

export const HeartbeatQuery = z.object({
  wait: z.coerce.number().int().min(0).max(50).default(0).openapi({ description: "long-poll seconds (0-50)" }),
});

/** What an agent needs to run a job: the Job plus its rendered deploy section. */
export const DeploySpecSchema = z
  .object({
    image: z.string(),
    container: z.string(),
    ports: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    health: z.object({ url: z.string().optional(), path: z.string().optional(), timeout: z.number() }).optional(),
    proxy: z
      .object({ listen: z.string(), host: z.string().optional(), app_port: z.number(), drain: z.number(), admin: z.string() })
      .optional()
      .openapi({ description: "set: a zero-downtime cutover behind the host's Caddy (docs/deploy-steps.md)" }),
  })
  .openapi("DeploySpec");

export const AssignedJobSchema = JobSchema.extend({
  deploy: DeploySpecSchema,
  lease_s: z.number(),
}).openapi("AssignedJob");

export const HeartbeatResponse = z
  .object({ job: AssignedJobSchema.nullable(), cancel: z.array(z.string()) })
  .openapi("HeartbeatResponse");

export const StatusBody = z
  .object({
    status: z.enum(["running", "succeeded", "failed"]),
    exit_code: z.number().int().nullable().optional(),
    error: z.string().max(4096).nullable().optional(),
    attempt: z.number().int().min(1).optional().openapi({ description: "the attempt this report is about; an older one answers 409" }),
  })
  .openapi("StatusReport");

/** Most lines in one batch, and most text in one line before the controller cuts it. */
export const MAX_LINES_PER_BATCH = 1000;

export const LogLineSchema = z.object({
  seq: z.number().int().min(1).max(1_000_000_000).openapi({ description: "1, 2, 3… per attempt; a repeated seq is ignored" }),
  ts: z.string().max(64),
  stream: z.enum(["stdout", "stderr", "system"]).default("stdout"),
  text: z.string().max(1024 * 1024),
});

export const LogsBody = z
  .object({
    lines: z.array(LogLineSchema).min(1).max(MAX_LINES_PER_BATCH),
    attempt: z.number().int().min(1).optional(),
  })
  .openapi("LogBatch");
