import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { loadRunningConfig } from "../config/current";
import { newToken, sha256Hex } from "../crypto";
import { insertEnrollToken } from "../db/enroll-tokens";
import { ApiError } from "../errors";
import { apiAuth } from "../middleware/auth";
import { ENROLL_TOKEN_PREFIX } from "../middleware/enroll-auth";
import { createRouter } from "../openapi";
import { errorResponses, HOST_NAME } from "../schemas/common";

const DEFAULT_TTL_S = 3600;
const MAX_TTL_S = 7 * 24 * 3600;

const EnrollTokenBody = z
  .object({
    host: z.string().regex(HOST_NAME, "host must be 1-63 letters, digits, '.', '_' or '-'"),
    ttl_s: z.number().int().min(1).max(MAX_TTL_S).default(DEFAULT_TTL_S).openapi({ description: `seconds it stays valid (at most ${MAX_TTL_S})` }),
    single_use: z.boolean().default(true).openapi({ description: "spent by the first registration (default)" }),
  })
  .openapi("EnrollTokenRequest");

const EnrollTokenResponse = z
  .object({ token: z.string(), host: z.string(), expires_at: z.string(), single_use: z.boolean() })
  .openapi("EnrollToken");

const issue = createRoute({
  method: "post",
  path: "/v1/agents/enroll-tokens",
  tags: ["agents"],
  summary: "Issue an enrollment token that registers one host only",
  description:
    "The token is shown once; only its SHA-256 is stored. An agent registering with it must name this host, " +
    "before it expires; a single-use token is spent by the first registration.",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { body: { content: { "application/json": { schema: EnrollTokenBody } }, required: true } },
  responses: {
    201: { description: "Issued; keep the token, it is shown once", content: { "application/json": { schema: EnrollTokenResponse } } },
    ...errorResponses(400, 401, 404),
  },
});

export const enrollTokensRouter = createRouter().openapi(issue, async (c) => {
  const { host, ttl_s: ttl, single_use: singleUse } = c.req.valid("json");
  const { config } = await loadRunningConfig(c.env.DB);
  if (!(host in config.hosts)) throw new ApiError(404, "unknown_host", `host "${host}" is not in apps.yaml`);
  const token = newToken(ENROLL_TOKEN_PREFIX);
  const now = Date.now();
  const expiresAt = new Date(now + ttl * 1000).toISOString();
  await insertEnrollToken(drizzle(c.env.DB), {
    tokenHash: await sha256Hex(token),
    host,
    createdAt: new Date(now).toISOString(),
    expiresAt,
    singleUse,
    usedAt: null,
  });
  return c.json({ token, host, expires_at: expiresAt, single_use: singleUse }, 201);
});
