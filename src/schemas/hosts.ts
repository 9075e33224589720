import { z } from "@hono/zod-openapi";

export const HostSchema = z
  .object({
    name: z.string(),
    mode: z.enum(["agent", "ssh"]),
    online: z.boolean(),
    last_heartbeat_at: z.string().nullable(),
    agent_id: z.string().nullable(),
    queued: z.number().int(),
    running_job_id: z.string().nullable(),
  })
  .openapi("Host");

export const HostNameParam = z.object({
  name: z.string().min(1).max(64).openapi({ param: { name: "name", in: "path" } }),
});
