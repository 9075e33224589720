import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import bundledYaml from "../../apps.yaml";
import type { Db } from "../db/queries";
import { configVersions } from "../db/schema";
import { ApiError } from "../errors";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";

// What the web dashboard needs beyond the resource routes: the history of apps.yaml. The queries
// live here rather than in db/queries.ts because nothing else reads them.

const ConfigVersionEntry = z
  .object({
    version: z.number().int().openapi({ description: "0 is the bundled apps.yaml" }),
    source: z.enum(["bundled", "stored"]),
    sha256: z.string().nullable().openapi({ description: "null for the bundled file" }),
    created_at: z.string().nullable().openapi({ description: "when it was stored; null for the bundled file" }),
    bytes: z.number().int(),
    running: z.boolean().openapi({ description: "true for the newest version, the one in force" }),
  })
  .openapi("ConfigVersionEntry");

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().min(1).optional().openapi({ description: "next_before of the previous page" }),
});

const VersionParam = z.object({
  version: z.coerce.number().int().min(0).openapi({ param: { name: "version", in: "path" }, example: 3 }),
});

const listVersions = createRoute({
  method: "get",
  path: "/v1/config/versions",
  tags: ["config"],
  summary: "Every stored apps.yaml version, newest first, ending with the bundled file (version 0)",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { query: ListQuery },
  responses: {
    200: {
      description: "A page of versions; `next_before` pages on while there are more",
      content: {
        "application/json": {
          schema: z.object({ versions: z.array(ConfigVersionEntry), next_before: z.number().int().nullable() }).openapi("ConfigVersionList"),
        },
      },
    },
    ...errorResponses(400, 401),
  },
});

const getVersion = createRoute({
  method: "get",
  path: "/v1/config/versions/{version}",
  tags: ["config"],
  summary: "One apps.yaml version's text",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: VersionParam },
  responses: {
    200: { description: "The YAML text; X-Config-Version names its version", content: { "application/yaml": { schema: z.string() } } },
    ...errorResponses(400, 401, 404),
  },
});

const bytes = (text: string) => new TextEncoder().encode(text).length;

/** A page of stored versions, newest first, with their sizes but not their text. */
export async function listConfigVersions(db: Db, limit: number, before?: number) {
  return db
    .select({ id: configVersions.id, sha256: configVersions.sha256, createdAt: configVersions.createdAt, bytes: sql<number>`length(cast(${configVersions.yaml} as blob))` })
    .from(configVersions)
    .where(before === undefined ? undefined : lt(configVersions.id, before))
    .orderBy(desc(configVersions.id))
    .limit(limit)
    .all();
}

/** The newest stored version's id, or 0 when only the bundled file exists. */
async function newestVersion(db: Db): Promise<number> {
  const row = await db.select({ id: configVersions.id }).from(configVersions).orderBy(desc(configVersions.id)).limit(1).get();
  return row?.id ?? 0;
}

export const dashboardApiRouter = createRouter()
  .openapi(listVersions, async (c) => {
    const { limit, before } = c.req.valid("query");
    const db = drizzle(c.env.DB);
    const [rows, newest] = await Promise.all([listConfigVersions(db, limit, before), newestVersion(db)]);
    const versions: Array<z.infer<typeof ConfigVersionEntry>> = rows.map((row) => ({
      version: row.id,
      source: "stored",
      sha256: row.sha256,
      created_at: row.createdAt,
      bytes: row.bytes,
      running: row.id === newest,
    }));
    const more = rows.length === limit;
    // The bundled file is the oldest version of all: it closes the last page.
    if (!more) versions.push({ version: 0, source: "bundled", sha256: null, created_at: null, bytes: bytes(bundledYaml), running: newest === 0 });
    return c.json({ versions, next_before: more ? rows.at(-1)!.id : null }, 200);
  })
  .openapi(getVersion, async (c) => {
    const { version } = c.req.valid("param");
    let yaml = bundledYaml;
    if (version > 0) {
      const row = await drizzle(c.env.DB).select({ yaml: configVersions.yaml }).from(configVersions).where(eq(configVersions.id, version)).get();
      if (!row) throw new ApiError(404, "config_version_not_found", `no apps.yaml version ${version}`);
      yaml = row.yaml;
    }
    c.header("X-Config-Version", String(version));
    return c.body(yaml, 200, { "Content-Type": "application/yaml; charset=utf-8" });
  });
