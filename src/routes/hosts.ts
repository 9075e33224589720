import { createRoute, z } from "@hono/zod-openapi";
import type { AppsConfig } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import { HOST_CALLS_AT_ONCE, mapBounded } from "../util/bounded";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { hostQueue } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { HostNameParam, HostSchema } from "../schemas/hosts";
import { sshReachability, type Reach } from "../ssh/reachability";

const DEFAULT_HOSTS_PAGE = 100;
const MAX_HOSTS_PAGE = 500;

const HostPage = z.object({
  hosts: z.array(HostSchema),
  next_cursor: z.string().nullable().openapi({ description: "pass as `cursor` for the next page; null on the last" }),
  total: z.number().int().openapi({ description: "hosts in apps.yaml" }),
});

const ListHostsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_HOSTS_PAGE).default(DEFAULT_HOSTS_PAGE).openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().max(64).optional().openapi({ param: { name: "cursor", in: "query" }, description: "the next_cursor of the page before" }),
});

const listHosts = createRoute({
  method: "get",
  path: "/v1/hosts",
  tags: ["hosts"],
  summary: "The hosts in apps.yaml, in name order, a page at a time, with their live queue state",
  description:
    "Each host on the page is asked for its state (at most 50 at once), so a page costs its own size, not the fleet's. " +
    `Up to ${DEFAULT_HOSTS_PAGE} hosts unless \`limit\` says otherwise (at most ${MAX_HOSTS_PAGE}); follow \`next_cursor\` for the rest.`,
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { query: ListHostsQuery },
  responses: {
    200: { description: "Hosts", content: { "application/json": { schema: HostPage } } },
    ...errorResponses(400, 401),
  },
});

const getHost = createRoute({
  method: "get",
  path: "/v1/hosts/{name}",
  tags: ["hosts"],
  summary: "One host",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: HostNameParam },
  responses: {
    200: { description: "The host", content: { "application/json": { schema: HostSchema } } },
    ...errorResponses(401, 404),
  },
});

async function describeHost(env: Env, config: AppsConfig, name: string, reach: Reach): Promise<z.infer<typeof HostSchema>> {
  const state = await hostQueue(env, name).state();
  // ssh hosts have no agent: they are online when the relay's pool last reached them.
  const mode = config.hosts[name]!.mode;
  return {
    name,
    mode,
    online: mode === "agent" ? state.online : reach.reachable === true,
    last_heartbeat_at: state.last_heartbeat_at,
    agent_id: state.agent_id,
    queued: state.queued,
    running_job_id: state.running_job_id,
    ...reach,
  };
}

export const hostsRouter = createRouter()
  .openapi(listHosts, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const { config } = await loadRunningConfig(c.env.DB);
    const names = Object.keys(config.hosts).sort();
    const start = cursor === undefined ? 0 : names.findIndex((name) => name > cursor);
    const page = start < 0 ? [] : names.slice(start, start + limit);
    const reach = await sshReachability(c.env, config, page);
    const hosts = await mapBounded(page, HOST_CALLS_AT_ONCE, (name) => describeHost(c.env, config, name, reach.get(name)!));
    const more = start >= 0 && start + limit < names.length;
    return c.json({ hosts, next_cursor: more ? page.at(-1)! : null, total: names.length }, 200);
  })
  .openapi(getHost, async (c) => {
    const { name } = c.req.valid("param");
    const { config } = await loadRunningConfig(c.env.DB);
    if (!(name in config.hosts)) throw new ApiError(404, "unknown_host", `host "${name}" is not in apps.yaml`);
    const reach = await sshReachability(c.env, config, [name]);
    return c.json(await describeHost(c.env, config, name, reach.get(name)!), 200);
  });
