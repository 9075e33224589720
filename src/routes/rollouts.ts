import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { normaliseRef } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import { appState } from "../app/stub";
import type { RolloutAction } from "../app/app-state";
import { decodeCursor, latestPushedSha } from "../db/queries";
import { getRollout, listRollouts } from "../db/rollouts";
import { ApiError } from "../errors";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { startRollout } from "../rollout/start";
import { errorResponses } from "../schemas/common";
import { JobSchema } from "../schemas/jobs";
import { appOfRolloutId, CreateRolloutBody, ROLLOUT_STATUSES, RolloutSchema } from "../schemas/rollouts";

/** The parts every route here shares: its tag and API-token auth. */
const route = <M extends "get" | "post", P extends string>(method: M, path: P, summary: string) => ({
  method,
  path,
  tags: ["rollouts"],
  summary,
  security: [{ apiToken: [] }],
  middleware: [apiAuth],
});
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const RolloutIdParam = z.object({ id: z.string().min(1).max(128).openapi({ param: { name: "id", in: "path" } }) });
const CreatedRollout = RolloutSchema.extend({ jobs: z.array(JobSchema).openapi({ description: "the jobs queued now (the first wave's)" }) }).openapi("CreatedRollout");

const createRollout = createRoute({
  ...route("post", "/v1/rollouts", "Release an app to its hosts (or some of them) in waves, by its rollout strategy"),
  description: "Without `sha`, releases the newest commit GitHub pushed to that ref. A locked app's rollout is created `held`.",
  request: { body: { content: json(CreateRolloutBody), required: true } },
  responses: { 201: { description: "Started (or held)", content: json(CreatedRollout) }, ...errorResponses(400, 401, 404, 422) },
});

const listRolloutsRoute = createRoute({
  ...route("get", "/v1/rollouts", "Rollouts, newest first"),
  request: {
    query: z.object({
      app: z.string().max(63).optional(),
      status: z.enum(ROLLOUT_STATUSES).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
    }),
  },
  responses: {
    200: { description: "A page of rollouts", content: json(z.object({ rollouts: z.array(RolloutSchema), next_cursor: z.string().nullable() }).openapi("RolloutList")) },
    ...errorResponses(400, 401),
  },
});

const getRolloutRoute = createRoute({
  ...route("get", "/v1/rollouts/{id}", "One rollout, with its waves and each host's job"),
  request: { params: RolloutIdParam },
  responses: { 200: { description: "The rollout", content: json(RolloutSchema) }, ...errorResponses(401, 404) },
});

const action = (verb: "pause" | "resume" | "cancel", summary: string) =>
  createRoute({
    ...route("post", `/v1/rollouts/{id}/${verb}`, summary),
    request: { params: RolloutIdParam },
    responses: { 200: { description: "Done", content: json(RolloutSchema) }, ...errorResponses(401, 404, 409) },
  });

const pauseRoute = action("pause", "Pause a running rollout: the wave in progress finishes, the next does not start");
const resumeRoute = action("resume", "Resume a paused rollout");
const cancelRoute = action("cancel", "Cancel a rollout: waves not started and jobs still queued are cancelled; running jobs finish");

/** The app's object that has the rollout: its id names the app. */
function objectOf(env: Parameters<typeof appState>[0], id: string) {
  const app = appOfRolloutId(id);
  if (!app) throw new ApiError(404, "rollout_not_found", "no such rollout");
  return appState(env, app);
}

function answer(result: RolloutAction, verb: string) {
  if (result.outcome === "not_found") throw new ApiError(404, "rollout_not_found", "no such rollout");
  if (result.outcome === "conflict") throw new ApiError(409, "rollout_state", `cannot ${verb} a rollout that is ${result.rollout.status}`);
  return result.rollout;
}

export const rolloutsRouter = createRouter()
  .openapi(createRollout, async (c) => {
    const body = c.req.valid("json");
    const { config } = await loadRunningConfig(c.env.DB);
    const app = config.apps[body.app];
    if (!app) throw new ApiError(404, "unknown_app", `app "${body.app}" is not in apps.yaml`);
    const ref = normaliseRef(app, body.ref);
    const sha = body.sha ?? (await latestPushedSha(drizzle(c.env.DB), app.repo, ref));
    if (!sha) throw new ApiError(422, "unknown_sha", `no push to ${ref} of ${app.repo} has been seen; give "sha"`);
    const trigger = body.rollback ? "rollback" : "api";
    const { rollout, jobs } = await startRollout(c.env, config, { appName: body.app, ref, sha, trigger, deliveryId: null, hosts: body.hosts });
    return c.json({ ...rollout, jobs }, 201);
  })
  .openapi(listRolloutsRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.cursor !== undefined && !decodeCursor(query.cursor)) throw new ApiError(400, "invalid_cursor", "cursor is not one this API returned");
    return c.json(await listRollouts(drizzle(c.env.DB), query), 200);
  })
  .openapi(getRolloutRoute, async (c) => {
    const { id } = c.req.valid("param");
    // The app's object first (it is ahead of D1, and needs no D1); D1 for what it no longer has.
    const rollout = (await objectOf(c.env, id).get(id)) ?? (await getRollout(drizzle(c.env.DB), id));
    if (!rollout) throw new ApiError(404, "rollout_not_found", "no such rollout");
    return c.json(rollout, 200);
  })
  .openapi(pauseRoute, async (c) => c.json(answer(await objectOf(c.env, c.req.valid("param").id).pause(c.req.valid("param").id), "pause"), 200))
  .openapi(resumeRoute, async (c) => c.json(answer(await objectOf(c.env, c.req.valid("param").id).resume(c.req.valid("param").id), "resume"), 200))
  .openapi(cancelRoute, async (c) => c.json(answer(await objectOf(c.env, c.req.valid("param").id).cancel(c.req.valid("param").id), "cancel"), 200));
