import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import bundled from "../apps.yaml";
import fixture from "./fixtures/apps.test.yaml";
import { call, callJson, ENROLL, putConfig, registerAgent, sendWebhook, settleHistory, sha } from "./helpers";

const post = (path: string, body: unknown, token?: string | null) =>
  callJson(path, { method: "POST", body: JSON.stringify(body), ...(token !== undefined ? { token } : {}) });

describe("public routes", () => {
  it("GET /health needs no token", async () => {
    const { status, body } = await callJson("/health", { token: null });
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
  });

  it("GET /openapi.json is OpenAPI 3.1 generated from the route schemas", async () => {
    const { status, body } = await callJson("/openapi.json", { token: null });
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    for (const path of ["/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/cancel", "/v1/hosts", "/v1/hosts/{name}", "/v1/config", "/v1/webhooks/github", "/v1/agents/register", "/v1/agents/{id}/heartbeat", "/health"]) {
      expect(body.paths).toHaveProperty([path]);
    }
    expect(body.components.schemas.Job.properties.status.enum).toEqual(["queued", "running", "succeeded", "failed", "cancelled"]);
    expect(body.paths["/v1/jobs"].post.security).toEqual([{ apiToken: [] }]);
  });

  it("GET /docs serves the interactive docs from this origin only, under a CSP", async () => {
    const res = await call("/docs", { token: null });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<script src="/docs/vendor/swagger-ui-bundle.js"></script>');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script>[^<]/);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self';/);
  });

  it("answers API requests with nosniff and no-store", async () => {
    for (const path of ["/openapi.json", "/v1/jobs", "/nope"]) {
      const res = await call(path);
      await res.text();
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("an unknown route answers 404 in the error shape", async () => {
    expect(await callJson("/nope")).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });
});

describe("auth", () => {
  it.each([
    ["GET", "/v1/jobs"],
    ["GET", "/v1/jobs/some-id"],
    ["POST", "/v1/jobs"],
    ["POST", "/v1/jobs/some-id/cancel"],
    ["GET", "/v1/hosts"],
    ["GET", "/v1/hosts/host-01"],
    ["GET", "/v1/config"],
    ["PUT", "/v1/config"],
  ])("%s %s answers 401 without a token, and with a wrong one", async (method, path) => {
    for (const token of [null, "wrong-token", "test-admin-token-but-longer"]) {
      const res = await call(path, { method, token, ...(method === "GET" ? {} : { body: "{}" }) });
      expect(res.status).toBe(401);
      const body = (await res.json()) as any;
      expect(body).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it("accepts every token in DEPLOYBOT_API_TOKENS", async () => {
    expect((await call("/v1/jobs", { token: "test-admin-token" })).status).toBe(200);
    expect((await call("/v1/jobs", { token: "second-admin-token" })).status).toBe(200);
  });

  it("an admin token does not register agents, and the enroll token is no admin token", async () => {
    expect((await post("/v1/agents/register", { hostname: "host-01", version: "1" }, "test-admin-token")).status).toBe(401);
    expect((await call("/v1/jobs", { token: ENROLL })).status).toBe(401);
  });
});

describe("with the test apps.yaml", () => {
  beforeAll(async () => {
    expect((await putConfig(fixture)).status).toBe(200);
  });

  describe("POST /v1/jobs", () => {
    it("queues a deploy (201), and answers 200 with the same job while it is queued", async () => {
      const body = { app: "hello", ref: "master", sha: sha(10), host: "host-01" };
      const first = await post("/v1/jobs", body);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ app: "hello", repo: "Codertocat/Hello-World", ref: "refs/heads/master", sha: sha(10), host: "host-01", status: "queued", trigger: "api", mode: "agent" });
      const second = await post("/v1/jobs", body);
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
    });

    it("accepts a repo instead of an app, and uses the newest pushed sha when none is given", async () => {
      const pushed = "c".repeat(40);
      await sendWebhook("push", { ref: "refs/heads/release/9", after: pushed, repository: { full_name: "Codertocat/Hello-World" } });
      const { status, body } = await post("/v1/jobs", { repo: "codertocat/hello-world", ref: "release/9", host: "host-02" });
      expect(status).toBe(200); // the webhook already queued exactly this deploy on host-02
      expect(body).toMatchObject({ app: "hello", sha: pushed, ref: "refs/heads/release/9", trigger: "webhook" });
    });

    it.each([
      [{ ref: "main", host: "host-01" }, 400, "invalid_request"],
      [{ app: "hello", repo: "a/b", ref: "main", host: "host-01" }, 400, "invalid_request"],
      [{ app: "hello", ref: "main", host: "host-01", sha: "abc" }, 400, "invalid_request"],
      [{ app: "hello", ref: "main", host: "../etc" }, 400, "invalid_request"],
      [{ app: "nope", ref: "main", host: "host-01" }, 404, "unknown_app"],
      [{ repo: "no/such", ref: "main", host: "host-01" }, 404, "unknown_repo"],
      [{ app: "hello", ref: "main", host: "host-99" }, 404, "unknown_host"],
      [{ app: "hello", ref: "main", host: "host-03", sha: sha(1) }, 422, "host_not_in_app"],
      [{ app: "hello", ref: "never-pushed", host: "host-01" }, 422, "unknown_sha"],
    ])("refuses %j with %i %s and queues nothing", async (body, status, code) => {
      const before = await callJson("/v1/hosts/host-01");
      const res = await post("/v1/jobs", body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect((await callJson("/v1/hosts/host-01")).body.queued).toBe(before.body.queued);
    });

    it("answers 400 for a body that is not JSON", async () => {
      const res = await call("/v1/jobs", { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toBeDefined();
    });
  });

  describe("GET /v1/jobs and /v1/jobs/{id}", () => {
    it("lists newest first with filters and cursor pagination over D1", async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { body } = await post("/v1/jobs", { app: "worker", ref: "main", sha: sha(100 + i), host: "host-02" });
        made.push(body.id);
        await new Promise((r) => setTimeout(r, 2)); // distinct created_at
      }
      await settleHistory("host-02");
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await callJson(`/v1/jobs?app=worker&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        expect(page.status).toBe(200);
        expect(page.body.jobs.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.jobs.map((j: any) => j.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual([...made].reverse());

      // Each newer push superseded the older queued one: only the newest is still queued.
      const queued = await callJson("/v1/jobs?app=worker&status=queued");
      expect(queued.body.jobs.map((j: any) => j.id)).toEqual([made[4]]);
      const cancelled = await callJson("/v1/jobs?app=worker&host=host-02&status=cancelled");
      expect(cancelled.body.jobs).toHaveLength(4);
      expect(cancelled.body.jobs[0].error).toBe(`superseded by job ${made[4]}`);

      const one = await callJson(`/v1/jobs/${made[4]}`);
      expect(one).toMatchObject({ status: 200, body: { id: made[4], status: "queued", host: "host-02" } });
    });

    it("answers 404 for an unknown job and 400 for a bad filter or cursor", async () => {
      expect((await callJson("/v1/jobs/does-not-exist")).status).toBe(404);
      expect((await callJson("/v1/jobs?status=done")).status).toBe(400);
      expect((await callJson("/v1/jobs?limit=0")).status).toBe(400);
      expect((await callJson("/v1/jobs?cursor=garbage")).status).toBe(400);
    });
  });

  describe("POST /v1/jobs/{id}/cancel", () => {
    it("cancels a queued job at once, then answers 409", async () => {
      const { body: job } = await post("/v1/jobs", { app: "hello", ref: "master", sha: sha(200), host: "host-02" });
      await settleHistory("host-02");
      const res = await post(`/v1/jobs/${job.id}/cancel`, {});
      expect(res).toMatchObject({ status: 200, body: { id: job.id, status: "cancelled", error: "cancelled by user" } });
      const again = await post(`/v1/jobs/${job.id}/cancel`, {});
      expect(again).toMatchObject({ status: 409, body: { error: { code: "job_finished" } } });
      await settleHistory("host-02");
      expect((await callJson(`/v1/jobs/${job.id}`)).body.status).toBe("cancelled");
    });

    it("answers 404 for an unknown job", async () => {
      expect((await post("/v1/jobs/nope/cancel", {})).status).toBe(404);
    });
  });

  describe("hosts", () => {
    it("lists every configured host with its live state", async () => {
      const { status, body } = await callJson("/v1/hosts");
      expect(status).toBe(200);
      expect(body.hosts.map((h: any) => h.name)).toEqual(["host-01", "host-02", "host-03"]);
      for (const host of body.hosts) {
        expect(Object.keys(host).sort()).toEqual(["agent_id", "last_connected_at", "last_heartbeat_at", "mode", "name", "online", "queued", "reach_error", "reachable", "running_job_id", "unreachable_since"]);
      }
      expect(body.hosts[2]).toMatchObject({ name: "host-03", mode: "ssh" });
    });

    it("shows one host, and 404 for an unknown one", async () => {
      expect((await callJson("/v1/hosts/host-01")).body).toMatchObject({ name: "host-01", mode: "agent" });
      expect((await callJson("/v1/hosts/host-77")).status).toBe(404);
    });
  });

  describe("agents", () => {
    it("registers with the enroll token and stores only a hash of the agent token", async () => {
      const res = await post("/v1/agents/register", { hostname: "host-01", version: "1.0.0" }, ENROLL);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ agent_id: expect.any(String), token: expect.any(String), heartbeat_interval_s: expect.any(Number) });
      const row = await env.DB.prepare("SELECT * FROM agents WHERE id = ?").bind(res.body.agent_id).first<any>();
      expect(row.hostname).toBe("host-01");
      expect(JSON.stringify(row)).not.toContain(res.body.token);
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    });

    it("refuses a registration without the enroll token or with a bad body", async () => {
      expect((await post("/v1/agents/register", { hostname: "host-01", version: "1" }, null)).status).toBe(401);
      expect((await post("/v1/agents/register", { hostname: "host-01", version: "1" }, "wrong")).status).toBe(401);
      expect((await post("/v1/agents/register", { hostname: "bad host!", version: "1" }, ENROLL)).status).toBe(400);
      expect((await post("/v1/agents/register", { version: "1" }, ENROLL)).status).toBe(400);
    });

    it("hands out at most one queued job of the agent's own host per heartbeat, and marks it running", async () => {
      await sendWebhook("push", { ref: "refs/heads/master", after: "d".repeat(40), repository: { full_name: "Codertocat/Hello-World" } });
      const agent = await registerAgent("host-01");
      const beat = (running_job_id: string | null = null) => post(`/v1/agents/${agent.agent_id}/heartbeat`, { running_job_id }, agent.token);
      const first = await beat();
      expect(first.status).toBe(200);
      expect(first.body.job).toMatchObject({ host: "host-01", status: "running", agent_id: agent.agent_id });
      expect(first.body.job.deploy).toMatchObject({ container: "hello", ports: ["8080:80"] });
      expect(first.body.cancel).toEqual([]);
      expect((await beat(first.body.job.id)).body.job).toBeNull(); // one running job per host
      const host = await callJson("/v1/hosts/host-01");
      expect(host.body).toMatchObject({ online: true, agent_id: agent.agent_id, running_job_id: first.body.job.id });
      await settleHistory("host-01");
      expect((await callJson(`/v1/jobs/${first.body.job.id}`)).body).toMatchObject({ status: "running", agent_id: agent.agent_id, started_at: expect.any(String) });
    });

    it("refuses a heartbeat with no token, a wrong token, or another agent's token", async () => {
      const a = await registerAgent("host-02");
      const b = await registerAgent("host-02");
      const beat = (id: string, token: string | null) => post(`/v1/agents/${id}/heartbeat`, {}, token);
      expect((await beat(a.agent_id, null)).status).toBe(401);
      expect((await beat(a.agent_id, `${a.agent_id}.forged`)).status).toBe(401);
      expect((await beat(a.agent_id, "test-admin-token")).status).toBe(401);
      expect((await beat(a.agent_id, b.token)).status).toBe(403);
      expect((await beat(a.agent_id, a.token)).status).toBe(200);
    });
  });
});

describe("config", () => {
  it("serves the bundled apps.yaml until a version is stored", async () => {
    // This file's storage is isolated; the config block above stored a version, so check the headers' shape.
    const res = await call("/v1/config");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/yaml/);
    const text = await res.text();
    expect(["bundled", "stored"]).toContain(res.headers.get("x-config-source"));
    expect(text === bundled || text === fixture).toBe(true);
  });

  it("refuses an invalid file with 422 and line/column of each problem, and keeps the running one", async () => {
    const before = await call("/v1/config");
    const beforeText = await before.text();
    const res = await putConfig("version: 2\nhosts: {}\napps:\n  web: { repo: nope }\n");
    expect(res.status).toBe(422);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("invalid_config");
    expect(body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "version", line: 1, column: 10 })]));
    for (const problem of body.error.details) {
      expect(problem).toEqual({ path: expect.any(String), line: expect.any(Number), column: expect.any(Number), message: expect.any(String) });
    }
    const after = await call("/v1/config");
    expect(after.headers.get("x-config-version")).toBe(before.headers.get("x-config-version"));
    expect(await after.text()).toBe(beforeText);
  });

  it("stores a valid file as a new version that wins, and a repeat as no change", async () => {
    const edited = fixture.replace("retries: 1", "retries: 2");
    const res = await putConfig(edited);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ changed: true, source: "stored", apps: ["hello", "api", "worker"], hosts: ["host-01", "host-02", "host-03"] });
    const current = await call("/v1/config");
    expect(current.headers.get("x-config-version")).toBe(String(body.version));
    expect(await current.text()).toBe(edited);
    const repeat = (await (await putConfig(edited)).json()) as any;
    expect(repeat).toMatchObject({ changed: false, version: body.version });
  });
});

describe("errors and logs", () => {
  it("never answers with a stack trace or a secret", async () => {
    const responses = await Promise.all([
      call("/v1/jobs", { method: "POST", body: "{" }),
      call("/v1/jobs", { method: "POST", body: JSON.stringify({ app: 1 }) }),
      sendWebhook("push", "{", { secret: "wrong" }),
      call("/v1/config", { method: "PUT", body: "a: [", headers: { "content-type": "application/yaml" } }),
    ]);
    for (const res of responses) {
      const text = await res.text();
      expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
      for (const secret of ["test-webhook-secret", "test-admin-token", "test-enroll-token"]) expect(text).not.toContain(secret);
      expect(JSON.parse(text).error.code).toEqual(expect.any(String));
    }
  });

  it("writes one structured JSON line per request, with the route pattern and no query string", async () => {
    const log = vi.spyOn(console, "log");
    try {
      const res = await call("/v1/jobs/abc?access_token=secret-in-query");
      await res.body?.cancel();
      const lines = log.mock.calls.map((args) => String(args[0])).filter((line) => line.includes('"msg":"request"'));
      expect(lines).toHaveLength(1);
      const entry = JSON.parse(lines[0]!);
      expect(entry).toEqual({
        level: "info",
        msg: "request",
        method: "GET",
        route: "/v1/jobs/:id",
        status: 404,
        duration_ms: expect.any(Number),
        request_id: res.headers.get("x-request-id"),
      });
      expect(lines[0]).not.toContain("secret-in-query");
    } finally {
      log.mockRestore();
    }
  });
});
