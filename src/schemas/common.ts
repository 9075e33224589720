import { z } from "@hono/zod-openapi";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "not_found" }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

/** The error responses every authenticated route can give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: "Malformed request",
    401: "Missing or wrong credentials",
    403: "Credentials valid, but not for this resource",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body too large",
    422: "Well-formed but invalid",
  };
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: descriptions[status] ?? "Error", content: { "application/json": { schema: ErrorSchema } } },
    ]),
  );
}

export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const SHA = /^[0-9a-f]{40}$/;

/** `true` only when A and B are the same type: a compile-time check that two copies of a shape agree. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
