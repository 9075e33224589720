import { z } from "@hono/zod-openapi";
import { HOST_NAME, SHA } from "./common";

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES: readonly JobStatus[] = ["queued", "running"];
/** The statuses a job ends in; the others are ACTIVE_STATUSES. */
export const FINISHED_STATUSES: readonly string[] = JOB_STATUSES.filter((status) => !ACTIVE_STATUSES.includes(status));

export const JobSchema = z
  .object({
    id: z.string(),
    app: z.string(),
    repo: z.string().openapi({ example: "acme/web" }),
    ref: z.string().openapi({ example: "refs/heads/main" }),
    sha: z.string().openapi({ example: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" }),
    host: z.string(),
    mode: z.enum(["agent", "ssh"]),
    status: z.enum(JOB_STATUSES),
    attempt: z.number().int(),
    agent_id: z.string().nullable(),
    trigger: z.string().openapi({ description: "webhook, api, rollback or retry" }),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    exit_code: z.number().int().nullable(),
    error: z.string().nullable(),
    rollout_id: z.string().nullable().openapi({ description: "the rollout this job is part of; null for a one-host deploy" }),
  })
  .openapi("Job");
export type Job = z.infer<typeof JobSchema>;

/**
 * The one definition of a job's public fields is JobSchema; the other forms derive from it:
 * the D1 table (db/schema.ts, checked against it at compile time), the host object's row
 * (host/job-table.ts) and the snapshots between them.
 */
export const JOB_KEYS = Object.keys(JobSchema.shape) as Array<keyof Job>;

/** The public Job of any row that carries its fields (a D1 row, the host object's row, a snapshot). */
export function pickJob(row: Job): Job {
  // A loop, not Object.fromEntries over a map: every job a push queues passes here, and that made 18 arrays per job.
  const job: Partial<Record<keyof Job, unknown>> = {};
  for (const key of JOB_KEYS) job[key] = row[key];
  return job as Job;
}

/** A job as the host's Durable Object delivers it to D1: the public Job plus ordering data. */
export type JobSnapshot = Job & {
  delivery_id: string | null;
  /** Rises with every transition, so a late, older snapshot never overwrites a newer one. */
  version: number;
};

/**
 * Job ids name their host: `<host>.<uuid>`, so a job is found without D1 (its host's object
 * has it). Ids made before this form are plain UUIDs: for those, null (ask D1).
 */
export function hostOfJobId(id: string): string | null {
  const dot = id.lastIndexOf(".");
  if (dot <= 0) return null;
  const host = id.slice(0, dot);
  return HOST_NAME.test(host) ? host : null;
}

export const newJobId = (host: string) => `${host}.${crypto.randomUUID()}`;

export const CreateJobBody = z
  .object({
    app: z.string().min(1).optional(),
    repo: z.string().min(1).optional(),
    ref: z.string().min(1).max(255),
    sha: z.string().regex(SHA, "sha must be a full 40-character lower-case hex commit id").optional(),
    host: z.string().regex(HOST_NAME, "host must be a host name from apps.yaml"),
    rollback: z.boolean().optional().openapi({ description: "marks the job's trigger as rollback (ctl rollback)" }),
  })
  .refine((body) => (body.app === undefined) !== (body.repo === undefined), {
    message: 'give exactly one of "app" or "repo"',
    path: ["app"],
  })
  .openapi("CreateJob");

export const JobIdParam = z.object({ id: z.string().min(1).max(128).openapi({ param: { name: "id", in: "path" } }) });

export const ListJobsQuery = z.object({
  host: z.string().optional(),
  app: z.string().optional(),
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional().openapi({ description: "next_cursor of the previous page" }),
});

export const JobListSchema = z
  .object({ jobs: z.array(JobSchema), next_cursor: z.string().nullable() })
  .openapi("JobList");
