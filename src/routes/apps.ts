import { createRoute, z } from "@hono/zod-openapi";
import type { AppsConfig } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import { appState } from "../app/stub";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { AppNameParam, AppSchema, LockBody, LockSchema, type AppView } from "../schemas/apps";
import { errorResponses } from "../schemas/common";
import { mapBounded } from "../util/bounded";

/** The parts every route here shares: its tag and API-token auth. */
const route = <M extends "get" | "post" | "delete", P extends string>(method: M, path: P, summary: string) => ({
  method,
  path,
  tags: ["apps"],
  summary,
  security: [{ apiToken: [] }],
  middleware: [apiAuth],
});
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const listApps = createRoute({
  ...route("get", "/v1/apps", "Every app of the running apps.yaml: what runs on each host, the rollout in progress, the lock"),
  responses: { 200: { description: "Apps by name", content: json(z.object({ apps: z.array(AppSchema) }).openapi("AppList")) }, ...errorResponses(401) },
});

const getApp = createRoute({
  ...route("get", "/v1/apps/{name}", "One app: what runs on each host, the rollout in progress, the lock"),
  request: { params: AppNameParam },
  responses: { 200: { description: "The app", content: json(AppSchema) }, ...errorResponses(401, 404) },
});

const lockApp = createRoute({
  ...route("post", "/v1/apps/{name}/lock", "Lock an app: its pushes and rollouts are held until it is unlocked"),
  request: { params: AppNameParam, body: { content: json(LockBody), required: true } },
  responses: { 200: { description: "Locked", content: json(LockSchema) }, ...errorResponses(400, 401, 404) },
});

const unlockApp = createRoute({
  ...route("delete", "/v1/apps/{name}/lock", "Unlock an app: the newest held rollout starts, older held ones are superseded"),
  request: { params: AppNameParam },
  responses: {
    200: { description: "Unlocked; `was` is the lock that stood (null: it was not locked)", content: json(z.object({ was: LockSchema.nullable() })) },
    ...errorResponses(401, 404),
  },
});

/** Calls to app objects at once, at most. */
const APP_CONCURRENCY = 50;

async function describeApp(env: Env, config: AppsConfig, name: string): Promise<AppView> {
  const app = config.apps[name]!;
  const { releases, active, lock } = await appState(env, name).overview();
  const byHost = new Map(releases.map(({ host, ...release }) => [host, release]));
  return {
    name,
    repo: app.repo,
    branches: app.branches,
    tags: app.tags,
    hosts: app.hosts,
    releases: app.hosts.map((host) => ({ host, release: byHost.get(host) ?? null })),
    rollout: active.find((r) => r.status === "running" || r.status === "paused") ?? null,
    held: active.filter((r) => r.status === "held").map((r) => r.id),
    lock,
  };
}

async function knownApp(env: Env, name: string): Promise<AppsConfig> {
  const { config } = await loadRunningConfig(env.DB);
  if (!(name in config.apps)) throw new ApiError(404, "unknown_app", `app "${name}" is not in apps.yaml`);
  return config;
}

export const appsRouter = createRouter()
  .openapi(listApps, async (c) => {
    const { config } = await loadRunningConfig(c.env.DB);
    const names = Object.keys(config.apps).sort((a, b) => a.localeCompare(b));
    return c.json({ apps: await mapBounded(names, APP_CONCURRENCY, (name) => describeApp(c.env, config, name)) }, 200);
  })
  .openapi(getApp, async (c) => {
    const { name } = c.req.valid("param");
    return c.json(await describeApp(c.env, await knownApp(c.env, name), name), 200);
  })
  .openapi(lockApp, async (c) => {
    const { name } = c.req.valid("param");
    await knownApp(c.env, name);
    const { reason, by } = c.req.valid("json");
    return c.json(await appState(c.env, name).lock(reason, by ?? "api"), 200);
  })
  .openapi(unlockApp, async (c) => {
    const { name } = c.req.valid("param");
    await knownApp(c.env, name);
    return c.json({ was: await appState(c.env, name).unlock() }, 200);
  });
