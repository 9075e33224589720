import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../openapi";

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["meta"],
  summary: "Liveness",
  responses: {
    200: {
      description: "The controller answers",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("ok"), time: z.string(), version: z.string() }),
        },
      },
    },
  },
});

export const healthRouter = createRouter().openapi(health, (c) =>
  c.json({ status: "ok" as const, time: new Date().toISOString(), version: "0.1.0" }, 200),
);
