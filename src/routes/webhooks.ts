import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { bodyLimit } from "hono/body-limit";
import { HOST_CALLS_AT_ONCE, mapBounded } from "../util/bounded";
import { appsForRepo, tracksRef } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import { getDelivery, getJob, insertDelivery, newerQueuedPush, type DeliveryRecord } from "../db/queries";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { DeploymentPayload, startFromDeployment } from "../github/deployment-event";
import { isDeletion, MAX_WEBHOOK_BYTES, PushPayload, pushTime, verifySignature } from "../github/webhook";
import { hostQueue } from "../host/stub";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { JobSchema, type Job } from "../schemas/jobs";
import { RolloutSchema } from "../schemas/rollouts";
import { startRollout } from "../rollout/start";

const WebhookAnswer = z
  .object({
    delivery_id: z.string(),
    jobs: z.array(JobSchema).openapi({ description: "the jobs queued now: every host's, or with a rollout strategy the first wave's" }),
    rollouts: z.array(RolloutSchema).optional().openapi({ description: "one rollout per app the push deploys (first answer only)" }),
    ignored: z.string().optional().openapi({ description: "why the delivery queued nothing" }),
  })
  .openapi("WebhookAnswer");

const githubWebhook = createRoute({
  method: "post",
  path: "/v1/webhooks/github",
  tags: ["webhooks"],
  summary: "GitHub webhook: push and deployment events (HMAC-SHA256 signed)",
  description:
    "Verifies X-Hub-Signature-256 over the raw body, then queues one job per host of every app that tracks the pushed ref. " +
    "A repeated X-GitHub-Delivery answers with the first answer's jobs and queues nothing new.",
  // Headers and body are checked by hand, after the signature: an unsigned request learns nothing but 401.
  request: {
    headers: z.object({
      "x-github-event": z.string().optional().openapi({ example: "push" }),
      "x-github-delivery": z.string().optional().openapi({ example: "72d3162e-cc78-11e3-81ab-4c9367dc0958" }),
      "x-hub-signature-256": z.string().optional().openapi({ example: "sha256=<hex HMAC of the body>" }),
    }),
  },
  middleware: [
    bodyLimit({
      maxSize: MAX_WEBHOOK_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", "webhook body is larger than 25 MiB");
      },
    }),
  ] as const,
  responses: {
    200: { description: "ping answered", content: { "application/json": { schema: z.object({ delivery_id: z.string(), pong: z.boolean() }) } } },
    202: { description: "delivery accepted (jobs queued, or the reason it was ignored)", content: { "application/json": { schema: WebhookAnswer } } },
    ...errorResponses(400, 401, 413),
  },
});

/** The push payload: JSON, or GitHub's form encoding (`payload=<json>`) when the hook is set to it. */
function decodeBody(raw: ArrayBuffer, contentType: string | undefined): unknown {
  const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw);
  const json = contentType?.startsWith("application/x-www-form-urlencoded")
    ? new URLSearchParams(text).get("payload") ?? ""
    : text;
  return JSON.parse(json);
}

/** Current state of the jobs a delivery named: from their Durable Objects, else from history. */
async function currentJobs(env: Env, refs: DeliveryRecord["jobs"]): Promise<Job[]> {
  const found = await mapBounded(refs, HOST_CALLS_AT_ONCE, async ({ id, host }) => (await hostQueue(env, host).getJob(id)) ?? (await getJob(drizzle(env.DB), id)));
  return found.filter((job): job is Job => job !== null);
}

export const webhooksRouter = createRouter().openapi(
  githubWebhook,
  async (c) => {
    const db = drizzle(c.env.DB);
    const raw = await c.req.arrayBuffer();
    if (!(await verifySignature(c.env.GITHUB_WEBHOOK_SECRET, raw, c.req.header("x-hub-signature-256")))) {
      throw new ApiError(401, "invalid_signature", "X-Hub-Signature-256 is missing or does not match the body");
    }
    const event = c.req.header("x-github-event");
    const deliveryId = c.req.header("x-github-delivery");
    if (!event || !deliveryId || deliveryId.length > 100) {
      throw new ApiError(400, "invalid_headers", "X-GitHub-Event and X-GitHub-Delivery are required");
    }
    if (event === "ping") return c.json({ delivery_id: deliveryId, pong: true }, 200);

    // Both reads go to D1 at once: every round trip before the first enqueue delays the first agent.
    const runningConfig = loadRunningConfig(c.env.DB);
    runningConfig.catch(() => undefined); // awaited below when the event deploys; a repeat or an ignored event never asks
    const previous = await getDelivery(db, deliveryId);
    if (previous) {
      const jobs = await currentJobs(c.env, previous.jobs);
      return c.json({ delivery_id: deliveryId, jobs, ...(previous.ignored ? { ignored: previous.ignored } : {}) }, 202);
    }

    const now = new Date().toISOString();
    const ignore = async (reason: string, push?: PushPayload) => {
      await insertDelivery(db, {
        id: deliveryId,
        event,
        repo: push?.repository.full_name ?? null,
        ref: push?.ref ?? null,
        sha: push && !isDeletion(push) ? push.after : null,
        before: push?.before ?? null,
        pushedAt: push ? pushTime(push, now) : null,
        outcome: "ignored",
        ignored: reason,
        jobs: [],
        createdAt: now,
      });
      return c.json({ delivery_id: deliveryId, jobs: [], ignored: reason }, 202);
    };

    if (event === "deployment_status") return ignore("deployment_status events are ignored: statuses are what DeployBot sends");
    if (event !== "push" && event !== "deployment") return ignore(`event "${event}" is not handled; only push and deployment deploy`);

    let body: unknown;
    try {
      body = decodeBody(raw, c.req.header("content-type"));
    } catch {
      throw new ApiError(400, "invalid_json", "webhook body is not valid JSON");
    }
    if (event === "deployment") {
      const payload = DeploymentPayload.safeParse(body);
      if (!payload.success) {
        const issue = payload.error.issues[0];
        throw new ApiError(400, "invalid_payload", `not a deployment payload: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
      }
      const { config } = await runningConfig;
      const started = await startFromDeployment(c.env, config, payload.data, deliveryId);
      if (started.outcome === "ignored") return ignore(started.reason);
      const { deployment, repository } = payload.data;
      await insertDelivery(db, {
        id: deliveryId, event, repo: repository.full_name, ref: started.ref, sha: deployment.sha, before: null, pushedAt: null,
        outcome: "queued", ignored: null, jobs: started.jobs.map((job) => ({ id: job.id, host: job.host })), createdAt: now,
      });
      return c.json({ delivery_id: deliveryId, jobs: started.jobs, rollouts: started.rollouts }, 202);
    }
    const parsed = PushPayload.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(400, "invalid_payload", `not a push payload: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
    }
    const push = parsed.data;
    if (isDeletion(push)) return ignore(`${push.ref} was deleted`, push);

    const order = { repo: push.repository.full_name, ref: push.ref, before: push.before ?? null, after: push.after, pushedAt: pushTime(push, now), receivedAt: now };
    // The order check reads D1 beside the configuration rather than after it (only reads: a push
    // that turns out not to be tracked has merely asked one question too many).
    const newerPush = newerQueuedPush(db, order);
    newerPush.catch(() => undefined);
    const { config } = await runningConfig;
    const apps = appsForRepo(config, push.repository.full_name);
    if (apps.length === 0) return ignore(`repository ${push.repository.full_name} is not in apps.yaml`, push);
    const tracking = apps.filter(([, app]) => tracksRef(app, push.ref));
    if (tracking.length === 0) {
      return ignore(`${push.ref} is not tracked by ${apps.map(([name]) => name).join(", ")}`, push);
    }

    const newer = await newerPush;
    if (newer) {
      // Said out loud: a push that deploys nothing should be visible in the logs, not only in its 202.
      console.warn(JSON.stringify({ level: "warn", msg: "push ignored as older", delivery_id: deliveryId, ref: push.ref, sha: push.after, newer: newer.sha }));
      return ignore(`older than ${newer.sha.slice(0, 7)}, already received for ${push.ref}: the newer push wins`, push);
    }

    // One rollout per app: its first wave's jobs are queued before this answers.
    const results = await Promise.all(
      tracking.map(([appName]) => startRollout(c.env, config, { appName, ref: push.ref, sha: push.after, trigger: "webhook", deliveryId })),
    );
    const jobs = results.flatMap((r) => r.jobs);
    const rollouts = results.map((r) => r.rollout);
    await insertDelivery(db, {
      id: deliveryId,
      event,
      repo: push.repository.full_name,
      ref: push.ref,
      sha: push.after,
      before: push.before ?? null,
      pushedAt: order.pushedAt,
      outcome: "queued",
      ignored: null,
      jobs: jobs.map((job) => ({ id: job.id, host: job.host })),
      createdAt: now,
    });
    return c.json({ delivery_id: deliveryId, jobs, rollouts }, 202);
  },
);
