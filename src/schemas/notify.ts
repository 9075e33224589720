import { z } from "@hono/zod-openapi";
import { NOTIFY_EVENTS } from "../config/notify";
import { JobSchema } from "./jobs";
import { RolloutSchema } from "./rollouts";

export const GitHubStatusSchema = z
  .object({
    deployment_url: z.string().nullable().openapi({ description: "the GitHub Deployment (API URL); null until GitHub answered" }),
    last_state: z.string().nullable().openapi({ description: "the last status GitHub accepted: queued, in_progress, success, failure, error, inactive (commit status: pending, ...)" }),
    state: z.enum(["off", "pending", "sent", "retrying"]).openapi({ description: "off: no GitHub credentials; pending: queued; retrying: GitHub failed, see error" }),
    error: z.string().nullable().openapi({ description: "GitHub's last error (retrying), or why a call was given up" }),
    context: z.string().nullable().openapi({ description: "a rollout's commit status context, deploybot/<app>; null for a job", example: "deploybot/web" }),
    commit_url: z.string().nullable().openapi({ description: "a rollout's commit page on GitHub, where its commit status shows; null for a job, or when GitHub is off" }),
  })
  .openapi("GitHubStatus");

export const NotifyTestAnswer = z
  .object({ deliveries: z.array(z.string()).openapi({ description: "one delivery id per notify URL (X-DeployBot-Delivery)" }) })
  .openapi("NotifyTestAnswer");

/**
 * What a `notify:` URL receives (format json), signed `X-DeployBot-Signature-256: sha256=<hex HMAC
 * of the body>` when the entry names a secret, with `X-DeployBot-Event` and `X-DeployBot-Delivery`.
 */
export const NotificationSchema = z
  .object({
    id: z.string().openapi({ description: "the delivery id, the same on every retry (X-DeployBot-Delivery): drop repeats by it" }),
    event: z.enum([...NOTIFY_EVENTS, "test"]),
    created_at: z.string(),
    app: z.string(),
    url: z.string().optional().openapi({ description: "the job's or rollout's page in the dashboard (DEPLOYBOT_PUBLIC_URL)" }),
    job: JobSchema.optional().openapi({ description: "job.* events" }),
    rollout: RolloutSchema.optional().openapi({ description: "rollout.* events" }),
  })
  .openapi("Notification");
