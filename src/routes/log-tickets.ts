import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";
import { issueTicket, TICKET_TTL_S } from "../stream-ticket";

const TicketBody = z
  .object({ job_id: z.string().min(1).max(128).optional(), rollout_id: z.string().min(1).max(128).optional() })
  .openapi("StreamTicketRequest");

const TicketResponse = z
  .object({ ticket: z.string(), expires_at: z.string() })
  .openapi("StreamTicket");

const ticketRoute = createRoute({
  method: "post",
  path: "/v1/logs/tickets",
  tags: ["logs"],
  summary: "A short-lived ticket to open one job's or rollout's live stream",
  description:
    `Give exactly one of job_id or rollout_id. The ticket opens \`GET /v1/logs/stream\` for that job or rollout only, for ${TICKET_TTL_S} s, ` +
    "in place of the API token: URLs land in Cloudflare's request logs, Logpush and proxies, and a ticket there is worth one stream for a minute.",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { body: { content: { "application/json": { schema: TicketBody } }, required: true } },
  responses: {
    201: { description: "The ticket", content: { "application/json": { schema: TicketResponse } } },
    ...errorResponses(400, 401),
  },
});

export const logTicketsRouter = createRouter().openapi(ticketRoute, async (c) => {
  const { job_id: jobId, rollout_id: rolloutId } = c.req.valid("json");
  if ((jobId === undefined) === (rolloutId === undefined)) throw new ApiError(400, "invalid_request", "give exactly one of job_id or rollout_id");
  const scope = jobId !== undefined ? { kind: "job" as const, id: jobId } : { kind: "rollout" as const, id: rolloutId! };
  return c.json(await issueTicket(c.env.DEPLOYBOT_API_TOKENS, scope), 201);
});
