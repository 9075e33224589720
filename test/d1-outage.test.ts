import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import app from "../src/index";
import fixture from "./fixtures/apps.test.yaml";
import { ADMIN, BASE, putConfig, sendWebhook, sha } from "./helpers";

/** A D1 binding that fails every call, as D1 does in an outage; `calls` counts what reached it. */
function failingD1() {
  let calls = 0;
  const fail = () => {
    calls++;
    throw new Error("D1_ERROR: database unavailable (injected)");
  };
  const db = { prepare: fail, batch: fail, exec: fail, dump: fail, withSession: fail } as unknown as D1Database;
  return { db, calls: () => calls };
}

/** A request to the Worker with every binding real except D1. */
async function callWithoutD1(db: D1Database, path: string, method = "GET") {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } }), { ...env, DB: db }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

describe("a job is found without D1", () => {
  it("reads and cancels a queued job while D1 is failing: its id names its host, whose object has it", async () => {
    const res = await sendWebhook("push", { ref: "refs/heads/master", after: sha(4242), repository: { full_name: "Codertocat/Hello-World" } });
    const queued = ((await res.json()) as any).jobs.find((j: any) => j.host === "host-02");
    expect(queued).toMatchObject({ status: "queued" });
    expect(queued.id.startsWith("host-02.")).toBe(true);

    const d1 = failingD1();
    expect(await callWithoutD1(d1.db, `/v1/jobs/${queued.id}`)).toMatchObject({ status: 200, body: { id: queued.id, status: "queued" } });
    expect(await callWithoutD1(d1.db, `/v1/jobs/${queued.id}/cancel`, "POST")).toMatchObject({ status: 200, body: { status: "cancelled" } });
    expect(await callWithoutD1(d1.db, `/v1/jobs/${queued.id}`)).toMatchObject({ status: 200, body: { status: "cancelled" } });
    expect(await callWithoutD1(d1.db, `/v1/jobs/${queued.id}/logs`)).toMatchObject({ status: 200 });
    expect(d1.calls()).toBe(0);
  });

  it("answers 503 for a job only D1 could have (pruned from its object, or an old-style id), revealing nothing", async () => {
    const d1 = failingD1();
    for (const id of ["host-02.00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000"]) {
      const res = await callWithoutD1(d1.db, `/v1/jobs/${id}`);
      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).not.toContain("injected");
    }
  });
});
