import { z } from "@hono/zod-openapi";

export const HostSchema = z
  .object({
    name: z.string(),
    mode: z.enum(["agent", "ssh"]),
    online: z.boolean().openapi({ description: "agent hosts: the agent heartbeats; ssh hosts: `reachable` is true" }),
    last_heartbeat_at: z.string().nullable(),
    agent_id: z.string().nullable(),
    queued: z.number().int(),
    running_job_id: z.string().nullable(),
    reachable: z.boolean().nullable().openapi({
      description: "ssh hosts: whether the ssh-relay's last connection attempt succeeded; null when it has made none yet (one is started) or could not be asked. Always null for agent hosts.",
    }),
    last_connected_at: z.string().nullable().openapi({ description: "ssh hosts: the relay's last successful connection" }),
    unreachable_since: z.string().nullable().openapi({ description: "ssh hosts: when the current run of failed connection attempts began" }),
    reach_error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .openapi({ description: "ssh hosts: why the last attempt failed, or why the relay could not be asked" }),
  })
  .openapi("Host");

export const HostNameParam = z.object({
  name: z.string().min(1).max(64).openapi({ param: { name: "name", in: "path" } }),
});
