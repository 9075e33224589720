import { OpenAPIHono, type Hook } from "@hono/zod-openapi";
import type { AppEnv } from "./env";
import { ApiError } from "./errors";

/** Request validation failures become the spec's error shape: 400 for malformed input, with each problem listed. */
const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
  const first = problems[0];
  throw new ApiError(
    400,
    "invalid_request",
    first ? `${first.path ? `${first.path}: ` : ""}${first.message}` : "invalid request",
    problems,
  );
};

/** A router whose routes are documented in /openapi.json and validated by their zod schemas. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
