import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/crypto";
import { insertEnrollToken } from "../src/db/enroll-tokens";
import fixture from "./fixtures/apps.test.yaml";
import { callJson, ENROLL, putConfig } from "./helpers";

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

const issue = (body: unknown) => callJson("/v1/agents/enroll-tokens", { method: "POST", body: JSON.stringify(body) });
const register = (token: string, hostname: string) =>
  callJson("/v1/agents/register", { method: "POST", token, body: JSON.stringify({ hostname, version: "test" }) });
const agentCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM agents").first<{ n: number }>())!.n;

describe("host-bound enrollment tokens", () => {
  it("are issued once, stored as a hash, and register their host once", async () => {
    const issued = await issue({ host: "host-01" });
    expect(issued.status).toBe(201);
    expect(issued.body).toEqual({ token: expect.stringMatching(/^dbe_/), host: "host-01", expires_at: expect.any(String), single_use: true });
    const expiresIn = Date.parse(issued.body.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(3500_000);
    expect(expiresIn).toBeLessThanOrEqual(3600_000);
    const row = await env.DB.prepare("SELECT * FROM enroll_tokens WHERE host = 'host-01'").first<any>();
    expect(row.token_hash).toBe(await sha256Hex(issued.body.token));
    expect(JSON.stringify(row)).not.toContain(issued.body.token);

    const first = await register(issued.body.token, "host-01");
    expect(first.status).toBe(201);
    const before = await agentCount();
    const again = await register(issued.body.token, "host-01");
    expect(again).toMatchObject({ status: 401, body: { error: { message: "enrollment token already used" } } });
    expect(await agentCount()).toBe(before);
  });

  it("lets exactly one of two racing registrations spend a single-use token", async () => {
    const { body } = await issue({ host: "host-02" });
    const answers = await Promise.all([register(body.token, "host-02"), register(body.token, "host-02")]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 401]);
  });

  it("refuses another host, and stores nothing", async () => {
    const { body } = await issue({ host: "host-01" });
    const before = await agentCount();
    const wrong = await register(body.token, "host-02");
    expect(wrong).toMatchObject({ status: 403, body: { error: { code: "enroll_token_host_mismatch" } } });
    expect(await agentCount()).toBe(before);
    // The refusal did not spend it.
    expect((await register(body.token, "host-01")).status).toBe(201);
  });

  it("refuses an expired token", async () => {
    const token = "dbe_expired-token-for-the-test";
    await insertEnrollToken(drizzle(env.DB), {
      tokenHash: await sha256Hex(token),
      host: "host-03",
      createdAt: new Date(Date.now() - 7200_000).toISOString(),
      expiresAt: new Date(Date.now() - 1000).toISOString(),
      singleUse: true,
      usedAt: null,
    });
    expect(await register(token, "host-03")).toMatchObject({ status: 401, body: { error: { message: "enrollment token expired" } } });
  });

  it("can be reusable until it expires", async () => {
    const { status, body } = await issue({ host: "host-03", ttl_s: 60, single_use: false });
    expect(status).toBe(201);
    expect(Date.parse(body.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await register(body.token, "host-03")).status).toBe(201);
    expect((await register(body.token, "host-03")).status).toBe(201);
  });

  it("refuses unknown hosts and bad ttls when issuing, and needs the API token", async () => {
    expect(await issue({ host: "nowhere" })).toMatchObject({ status: 404, body: { error: { code: "unknown_host" } } });
    expect((await issue({ host: "host-01", ttl_s: 8 * 24 * 3600 })).status).toBe(400);
    const anonymous = await callJson("/v1/agents/enroll-tokens", { method: "POST", token: ENROLL, body: JSON.stringify({ host: "host-01" }) });
    expect(anonymous.status).toBe(401);
  });

  it("keeps the global AGENT_ENROLL_TOKEN working, for any host, and refuses made-up tokens", async () => {
    expect((await register(ENROLL, "host-02")).status).toBe(201);
    expect((await register("dbe_made-up", "host-02")).status).toBe(401);
    expect((await register("nonsense", "host-02")).status).toBe(401);
  });
});
