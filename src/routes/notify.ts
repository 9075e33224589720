import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { FINISHED_ROLLOUTS_KEPT } from "../app/app-state";
import { appState } from "../app/stub";
import { getRollout } from "../db/rollouts";
import { loadRunningConfig } from "../config/current";
import { ApiError } from "../errors";
import { findJob } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { AppNameParam } from "../schemas/apps";
import { errorResponses } from "../schemas/common";
import { JobIdParam } from "../schemas/jobs";
import { appOfRolloutId } from "../schemas/rollouts";
import { GitHubStatusSchema, NotificationSchema, NotifyTestAnswer } from "../schemas/notify";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const notifyTest = createRoute({
  method: "post",
  path: "/v1/apps/{name}/notify/test",
  tags: ["apps"],
  summary: "Send a test event to each of the app's notify URLs (ctl notify test)",
  security: [{ apiToken: [] }],
  middleware: [apiAuth],
  request: { params: AppNameParam },
  responses: { 202: { description: "Queued; delivered through the app's outbox", content: json(NotifyTestAnswer) }, ...errorResponses(401, 404, 422) },
});

/** `GET /v1/{jobs|rollouts}/{id}/github`: what GitHub was told, for the job and rollout views. */
const githubRoute = <P extends string>(path: P, tag: "jobs" | "rollouts", summary: string) =>
  createRoute({
    method: "get",
    path,
    tags: [tag],
    summary,
    security: [{ apiToken: [] }],
    middleware: [apiAuth],
    request: { params: JobIdParam },
    responses: { 200: { description: "What GitHub was told", content: json(GitHubStatusSchema) }, ...errorResponses(401, 404) },
  });

const jobGitHub = githubRoute("/v1/jobs/{id}/github", "jobs", "What GitHub was told of a job: its Deployment and the last status sent, or why not yet");
const rolloutGitHub = githubRoute(
  "/v1/rollouts/{id}/github",
  "rollouts",
  "What GitHub was told of a rollout: its commit status deploybot/<app> on the commit's page (and the Deployment of a deployment event)",
);

export const notifyRouter = createRouter()
  .openapi(notifyTest, async (c) => {
    const { name } = c.req.valid("param");
    const { config } = await loadRunningConfig(c.env.DB);
    const app = config.apps[name];
    if (!app) throw new ApiError(404, "unknown_app", `app "${name}" is not in apps.yaml`);
    if (app.notify.length === 0) throw new ApiError(422, "no_notify_urls", `app "${name}" has no notify: URLs in apps.yaml`);
    return c.json({ deliveries: await appState(c.env, name).notifyTest(name, app) }, 202);
  })
  .openapi(jobGitHub, async (c) => {
    const found = await findJob(c.env, c.req.valid("param").id);
    if (!found) throw new ApiError(404, "job_not_found", "no such job");
    return c.json(await appState(c.env, found.job.app).githubOf(found.job.id), 200);
  })
  .openapi(rolloutGitHub, async (c) => {
    const { id } = c.req.valid("param");
    const app = appOfRolloutId(id);
    const stub = app ? appState(c.env, app) : null;
    if (stub && (await stub.get(id))) return c.json(await stub.githubOf(id), 200);
    // The app's object keeps its newest finished rollouts; history (D1) has every one, but not what GitHub was told.
    if (stub && (await getRollout(drizzle(c.env.DB), id))) {
      throw new ApiError(404, "rollout_not_found", `rollout ${id} is in history only: what GitHub was told is kept for the newest ${FINISHED_ROLLOUTS_KEPT} finished rollouts of an app`);
    }
    throw new ApiError(404, "rollout_not_found", "no such rollout");
  });

// What DeployBot sends to an app's `notify:` URLs (format json), in /openapi.json's webhooks section.
notifyRouter.openAPIRegistry.registerWebhook({
  method: "post",
  path: "deploybot-notification",
  summary: "A deploy event, POSTed to each notify: URL of apps.yaml that asked for it",
  description:
    "Delivered at least once, in order per URL, retried with backoff until a 2xx. `X-DeployBot-Delivery` is the same on every retry of one event. " +
    "With `secret: NOTIFY_<NAME>`, `X-DeployBot-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body with that Worker secret, as GitHub signs its webhooks. " +
    "A `format: slack` URL gets `{\"text\"}` instead.",
  request: {
    headers: z.object({
      "x-deploybot-event": z.string().openapi({ example: "job.failed" }),
      "x-deploybot-delivery": z.string().openapi({ example: "5b0f9a3e-8d51-4cf1-9a3a-1f0e6b1c2d3e" }),
      "x-deploybot-signature-256": z.string().optional().openapi({ example: "sha256=<hex HMAC of the body>" }),
    }),
    body: { content: json(NotificationSchema), required: true },
  },
  responses: { 200: { description: "Any 2xx accepts the event; anything else (or no answer within 15 s) is retried" } },
});
