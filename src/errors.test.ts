import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { ApiError, handleError, loggableDetail } from "./errors";

function appThrowing(err: Error) {
  const app = new Hono();
  app.get("/", () => {
    throw err;
  });
  app.onError(handleError);
  return app;
}

describe("handleError", () => {
  it("maps an ApiError to its status and the spec's shape", async () => {
    const res = await appThrowing(new ApiError(409, "job_finished", "job already succeeded")).request("/");
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: { code: "job_finished", message: "job already succeeded" } });
  });

  it("answers a storage outage with 503 and Retry-After, revealing nothing", async () => {
    const res = await appThrowing(new Error("D1_ERROR: database is locked: SQLITE_BUSY")).request("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("storage_unavailable");
    expect(JSON.stringify(body)).not.toMatch(/SQLITE|locked/);
  });

  it("answers anything else with a bare 500", async () => {
    const res = await appThrowing(new TypeError("cannot read x of undefined at secret-path.ts:12")).request("/");
    expect(res.status).toBe(500);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("internal_error");
    expect(JSON.stringify(body)).not.toMatch(/secret-path|undefined/);
  });

  it("never logs a failed query's bound parameters, and cuts long details short", async () => {
    const secretYaml = "env: { API_TOKEN: s3cr3t-value }";
    const failed = new DrizzleQueryError("insert into config_versions (yaml) values (?)", [secretYaml], new Error("D1_ERROR: string or blob too big: SQLITE_TOOBIG"));
    const logged: string[] = [];
    const original = console.error;
    console.error = (line: string) => logged.push(line);
    try {
      const res = await appThrowing(failed).request("/");
      expect(res.status).toBe(500);
      await res.text();
    } finally {
      console.error = original;
    }
    expect(logged.join("\n")).not.toContain("s3cr3t-value");
    expect(logged.join("\n")).toContain("SQLITE_TOOBIG");
    expect(loggableDetail(new Error("x".repeat(20_000))).length).toBeLessThan(400);
  });
});
