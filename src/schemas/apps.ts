import { z } from "@hono/zod-openapi";
import { RolloutSchema } from "./rollouts";

export const ReleaseSchema = z
  .object({
    sha: z.string(),
    ref: z.string(),
    since: z.string().openapi({ description: "when the job that put it there succeeded" }),
    job_id: z.string(),
    rollout_id: z.string().nullable(),
  })
  .openapi("Release");

export const LockSchema = z
  .object({ reason: z.string(), locked_by: z.string(), locked_at: z.string() })
  .openapi("AppLock");

export const AppSchema = z
  .object({
    name: z.string(),
    repo: z.string(),
    branches: z.array(z.string()),
    tags: z.array(z.string()),
    hosts: z.array(z.string()),
    releases: z.array(z.object({ host: z.string(), release: ReleaseSchema.nullable() })).openapi({ description: "what runs on each host of the app, in apps.yaml order" }),
    rollout: RolloutSchema.nullable().openapi({ description: "the rollout in progress (running or paused), if any" }),
    held: z.array(z.string()).openapi({ description: "ids of rollouts held (locked app, or queued behind another)" }),
    lock: LockSchema.nullable(),
  })
  .openapi("App");
export type AppView = z.infer<typeof AppSchema>;

export const AppNameParam = z.object({ name: z.string().min(1).max(63).openapi({ param: { name: "name", in: "path" }, example: "web" }) });

export const LockBody = z
  .object({
    reason: z.string().min(1).max(500),
    by: z.string().min(1).max(100).optional().openapi({ description: "who locks (ctl sends the local user name)" }),
  })
  .openapi("LockApp");
