import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { bodyLimit } from "hono/body-limit";
import { parseAppsYaml, type AppsConfig } from "../config/apps";
import { MAX_CONFIG_BYTES } from "../config/fields";
import { HOST_CALLS_AT_ONCE, mapBounded } from "../util/bounded";
import { loadRunningConfig } from "../config/current";
import { sha256Hex } from "../crypto";
import { insertConfigVersion } from "../db/queries";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { hostQueue } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";

/** What PUT reads at all; parseAppsYaml refuses anything over MAX_CONFIG_BYTES (1 MiB) with a 422. */
const MAX_BODY_BYTES = 4 * MAX_CONFIG_BYTES;

const ConfigVersionSchema = z
  .object({
    version: z.number().int().openapi({ description: "0 is the bundled apps.yaml" }),
    sha256: z.string(),
    source: z.enum(["bundled", "stored"]),
    apps: z.array(z.string()),
    hosts: z.array(z.string()),
    changed: z.boolean().openapi({ description: "false when the file equals the running one" }),
    cancelled_jobs: z
      .array(z.string())
      .openapi({ description: "Queued jobs cancelled because their app no longer deploys to their host under this file" }),
  })
  .openapi("ConfigVersion");

const getConfig = createRoute({
  method: "get",
  path: "/v1/config",
  tags: ["config"],
  summary: "The running apps.yaml",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  responses: {
    200: {
      description: "The YAML text; X-Config-Version names its version (0: the bundled file)",
      content: { "application/yaml": { schema: z.string() } },
    },
    ...errorResponses(401),
  },
});

const putConfig = createRoute({
  method: "put",
  path: "/v1/config",
  tags: ["config"],
  summary: "Replace apps.yaml",
  description: "Validated first: an invalid file answers 422 with the line and column of every problem and changes nothing.",
  security: [{ apiToken: [] }],
  middleware: [
    apiAuth,
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", "apps.yaml is larger than 4 MiB (and may be at most 1 MiB)");
      },
    }),
  ] as const,
  request: { body: { content: { "application/yaml": { schema: z.string() } }, required: true } },
  responses: {
    200: { description: "Stored; now running", content: { "application/json": { schema: ConfigVersionSchema } } },
    ...errorResponses(401, 413, 422),
  },
});

export const configRouter = createRouter()
  .openapi(getConfig, async (c) => {
    const running = await loadRunningConfig(c.env.DB);
    c.header("X-Config-Version", String(running.version));
    c.header("X-Config-Source", running.source);
    return c.body(running.yaml, 200, { "Content-Type": "application/yaml; charset=utf-8" });
  })
  .openapi(putConfig, async (c) => {
    const yaml = await c.req.text();
    const result = parseAppsYaml(yaml);
    if (!result.ok) {
      const first = result.problems[0]!;
      throw new ApiError(
        422,
        "invalid_config",
        `apps.yaml has ${result.problems.length} problem(s); first at line ${first.line}, column ${first.column}: ${first.message}`,
        result.problems,
      );
    }
    const digest = await sha256Hex(yaml);
    // A stored file that today's rules refuse (one stored before a limit existed) must not stop its own replacement.
    const running = await loadRunningConfig(c.env.DB).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === "config_invalid") return null;
      throw err;
    });
    const summary = { apps: Object.keys(result.config.apps), hosts: Object.keys(result.config.hosts) };
    if (running && digest === (await sha256Hex(running.yaml))) {
      return c.json({ version: running.version, sha256: digest, source: running.source, changed: false, ...summary, cancelled_jobs: [] }, 200);
    }
    const stored = await insertConfigVersion(drizzle(c.env.DB), yaml, digest, new Date().toISOString());
    const reason = `cancelled: apps.yaml version ${stored.id} no longer deploys this app to this host`;
    const cancelled = running ? await dropUnmappedJobs(c.env, running.config, result.config, reason) : [];
    return c.json({ version: stored.id, sha256: digest, source: "stored" as const, changed: true, ...summary, cancelled_jobs: cancelled }, 200);
  });

/**
 * After a config change, asks each host that lost an app under the new file to cancel its queued jobs of
 * apps that the new file no longer deploys there; hosts that lost nothing are not called, and the others
 * at most 50 at once. The new version is already stored: should a host not answer, its stale jobs stay
 * queued (and it is logged); cancel them by hand.
 */
async function dropUnmappedJobs(env: Env, before: AppsConfig, after: AppsConfig, reason: string): Promise<string[]> {
  const appsOf = (config: AppsConfig) => {
    const byHost = new Map<string, string[]>();
    for (const [name, app] of Object.entries(config.apps)) {
      for (const host of app.hosts) byHost.set(host, (byHost.get(host) ?? []).concat(name));
    }
    return byHost;
  };
  const [was, now] = [appsOf(before), appsOf(after)];
  const losing = Object.keys(before.hosts).filter((host) => (was.get(host) ?? []).some((app) => !(now.get(host) ?? []).includes(app)));
  const answers = await mapBounded(losing, HOST_CALLS_AT_ONCE, (host) =>
    hostQueue(env, host)
      .dropQueuedExcept(now.get(host) ?? [], reason)
      .catch((error: unknown) => {
        console.warn(JSON.stringify({ level: "warn", msg: "could not cancel a host's unmapped jobs", host, error: String(error) }));
        return [] as string[];
      }),
  );
  return answers.flat();
}
