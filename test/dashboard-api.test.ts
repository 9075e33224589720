import { describe, expect, it } from "vitest";
import bundled from "../apps.yaml";
import { call, callJson, putConfig } from "./helpers";

// Each test file has its own D1, so the versions below are this file's alone.
const yaml = (host: string) => `# réglages (multi-byte: sizes are bytes, not characters)
version: 1
hosts:
  ${host}: { mode: agent }
apps:
  web:
    repo: acme/web
    branches: [main]
    hosts: [${host}]
    deploy: { image: "registry.example.com/web:{sha}", container: web }
`;

describe("GET /v1/config/versions", () => {
  it("lists only the bundled file before anything is stored, then every version newest first", async () => {
    const before = await callJson("/v1/config/versions");
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      versions: [{ version: 0, source: "bundled", sha256: null, created_at: null, bytes: new TextEncoder().encode(bundled).length, running: true }],
      next_before: null,
    });

    const stored: number[] = [];
    for (const host of ["dash-a", "dash-b", "dash-c"]) {
      const res = await putConfig(yaml(host));
      expect(res.status).toBe(200);
      stored.push(((await res.json()) as { version: number }).version);
    }
    const { body } = await callJson("/v1/config/versions");
    expect(body.versions.map((v: { version: number }) => v.version)).toEqual([...stored.reverse(), 0]);
    expect(body.versions[0]).toEqual({
      version: stored[0],
      source: "stored",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      bytes: new TextEncoder().encode(yaml("dash-c")).length,
      running: true,
    });
    expect(body.versions.slice(1).every((v: { running: boolean }) => !v.running)).toBe(true);
    expect(body.next_before).toBeNull();
  });

  it("pages with limit and next_before, the bundled file closing the last page", async () => {
    const first = await callJson("/v1/config/versions?limit=2");
    expect(first.body.versions).toHaveLength(2);
    expect(first.body.next_before).toBe(first.body.versions[1].version);
    const rest = await callJson(`/v1/config/versions?limit=2&before=${first.body.next_before}`);
    const all = [...first.body.versions, ...rest.body.versions];
    expect(all.map((v: { version: number }) => v.version).at(-1)).toBe(0);
    expect(new Set(all.map((v: { version: number }) => v.version)).size).toBe(all.length);
    expect((await callJson("/v1/config/versions?limit=0")).status).toBe(400);
  });
});

describe("GET /v1/config/versions/{version}", () => {
  it("serves a stored version's text, the bundled file as version 0, and 404 for an unknown one", async () => {
    const { body } = await callJson("/v1/config/versions");
    const newest = body.versions[0].version as number;
    const res = await call(`/v1/config/versions/${newest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/yaml/);
    expect(res.headers.get("x-config-version")).toBe(String(newest));
    expect(await res.text()).toBe(await (await call("/v1/config")).text());

    const zero = await call("/v1/config/versions/0");
    expect(await zero.text()).toBe(bundled);
    expect(await callJson("/v1/config/versions/9999")).toMatchObject({ status: 404, body: { error: { code: "config_version_not_found" } } });
    expect((await call("/v1/config/versions/abc")).status).toBe(400);
  });

  it("needs the API token", async () => {
    for (const path of ["/v1/config/versions", "/v1/config/versions/0", "/v1/apps"]) {
      expect((await call(path, { token: null })).status).toBe(401);
      expect((await call(path, { token: "wrong" })).status).toBe(401);
    }
  });

  it("is in /openapi.json", async () => {
    const { body } = await callJson("/openapi.json", { token: null });
    expect(body.paths).toHaveProperty(["/v1/config/versions"]);
    expect(body.paths).toHaveProperty(["/v1/config/versions/{version}"]);
    expect(body.paths).toHaveProperty(["/v1/apps"]);
  });
});

describe("GET /v1/apps", () => {
  it("lists the running config's apps with their repo, branches, tags and hosts", async () => {
    await putConfig(`version: 1
hosts:
  dash-a: { mode: agent }
  dash-b: { mode: agent }
apps:
  web:
    repo: acme/web
    branches: [main, "release/*"]
    tags: ["v*"]
    hosts: [dash-b, dash-a]
    deploy: { image: "registry.example.com/web:{sha}", container: web }
  api:
    repo: acme/api
    branches: [main]
    hosts: [dash-a]
    deploy: { image: "registry.example.com/api:{sha}", container: api }
`);
    expect(await callJson("/v1/apps")).toMatchObject({
      status: 200,
      body: {
        apps: [
          { name: "api", repo: "acme/api", branches: ["main"], tags: [], hosts: ["dash-a"] },
          { name: "web", repo: "acme/web", branches: ["main", "release/*"], tags: ["v*"], hosts: ["dash-b", "dash-a"] },
        ],
      },
    });
    expect((await call("/v1/apps", { token: null })).status).toBe(401);
  });
});
