import { createRoute, z } from "@hono/zod-openapi";
import type { AppsConfig } from "../config/apps";
import { loadRunningConfig } from "../config/current";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { hostQueue } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { HostNameParam, HostSchema } from "../schemas/hosts";
import { sshReachability, type Reach } from "../ssh/reachability";

const listHosts = createRoute({
  method: "get",
  path: "/v1/hosts",
  tags: ["hosts"],
  summary: "Every host in apps.yaml with its live queue state",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  responses: {
    200: { description: "Hosts", content: { "application/json": { schema: z.object({ hosts: z.array(HostSchema) }) } } },
    ...errorResponses(401),
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
    const { config } = await loadRunningConfig(c.env.DB);
    const names = Object.keys(config.hosts).sort();
    const reach = await sshReachability(c.env, config, names);
    const hosts = await Promise.all(names.map((name) => describeHost(c.env, config, name, reach.get(name)!)));
    return c.json({ hosts }, 200);
  })
  .openapi(getHost, async (c) => {
    const { name } = c.req.valid("param");
    const { config } = await loadRunningConfig(c.env.DB);
    if (!(name in config.hosts)) throw new ApiError(404, "unknown_host", `host "${name}" is not in apps.yaml`);
    const reach = await sshReachability(c.env, config, [name]);
    return c.json(await describeHost(c.env, config, name, reach.get(name)!), 200);
  });
