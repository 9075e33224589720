import { describe, expect, it } from "vitest";
import { parseAppsYaml, renderDeploy, type ParseResult } from "./apps";

function problems(result: ParseResult) {
  if (result.ok) throw new Error("expected the file to be refused");
  return result.problems;
}

/** An apps.yaml with one app on host h1 whose deploy section is DEPLOY (one YAML line, indented under it). */
const withDeploy = (deploy: string, more = "") => `version: 1
hosts: { h1: { mode: agent } }
apps:
  web:
    repo: acme/web
    branches: [main]
    hosts: [h1]
    deploy:
      image: "r/web:{sha}"
      container: web
${deploy}
${more}`;

describe("apps.yaml proxy block", () => {
  it("accepts a proxy block, fills its defaults and passes it through the rendered deploy", () => {
    const result = parseAppsYaml(withDeploy(`      proxy: { listen: "0.0.0.0:80", host: web.example.com, app_port: 3000, drain: 5s }
      health: { path: /up, timeout: 20s }`));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const deploy = result.config.apps.web!.deploy;
    expect(deploy.proxy).toEqual({ listen: "0.0.0.0:80", host: "web.example.com", app_port: 3000, drain: 5, admin: "127.0.0.1:2019" });
    expect(deploy.health).toEqual({ path: "/up", timeout: 20 });
    const rendered = renderDeploy(deploy, { sha: "abc1234def", ref: "refs/heads/main", repo: "acme/web", app: "web" });
    expect(rendered.proxy).toEqual(deploy.proxy);
  });

  it("defaults drain to 30 s and takes drain: 0", () => {
    const defaulted = parseAppsYaml(withDeploy(`      proxy: { listen: ":80", app_port: 80 }`));
    expect(defaulted.ok && defaulted.config.apps.web!.deploy.proxy).toMatchObject({ drain: 30 });
    const none = parseAppsYaml(withDeploy(`      proxy: { listen: ":80", app_port: 80, drain: 0 }`));
    expect(none.ok && none.config.apps.web!.deploy.proxy).toMatchObject({ drain: 0 });
  });

  it("refuses ports and proxy together, where the proxy block stands", () => {
    const found = problems(parseAppsYaml(withDeploy(`      ports: ["8080:80"]
      proxy: { listen: ":80", app_port: 80 }`)));
    expect(found).toEqual([{ path: "apps.web.deploy.proxy", line: 12, column: 14, message: "an app has either proxy (zero-downtime) or ports (stop-then-start), not both" }]);
  });

  it("locates each bad field of the block", () => {
    const found = problems(parseAppsYaml(withDeploy(`      proxy:
        listen: "web:80"
        app_port: 70000
        admin: "10.0.0.5:2019"
        drain: soon`)));
    expect(found.map((p) => [p.path, p.line])).toEqual([
      ["apps.web.deploy.proxy.listen", 12],
      ["apps.web.deploy.proxy.app_port", 13],
      ["apps.web.deploy.proxy.admin", 14],
      ["apps.web.deploy.proxy.drain", 15],
    ]);
    expect(found[0]!.message).toMatch(/^listen is the address and port/);
    expect(found[2]!.message).toMatch(/loopback/);
  });

  it("wants health.path behind the proxy and health.url without it", () => {
    const url = problems(parseAppsYaml(withDeploy(`      proxy: { listen: ":80", app_port: 80 }
      health: { url: "http://127.0.0.1/up" }`)));
    expect(url.map((p) => p.message)).toEqual([
      "behind the proxy, health needs a path such as /up",
      "behind the proxy, health takes path (checked on the new container before traffic moves), not url",
    ]);
    const path = problems(parseAppsYaml(withDeploy(`      health: { path: /up }`)));
    expect(path.map((p) => p.path).sort()).toEqual(["apps.web.deploy.health", "apps.web.deploy.health.path"]);
  });

  it("refuses two apps on one host, listen address and Host", () => {
    const found = problems(parseAppsYaml(withDeploy(`      proxy: { listen: ":80", app_port: 80 }`, `  api:
    repo: acme/api
    branches: [main]
    hosts: [h1]
    deploy: { image: r/api, container: api, proxy: { listen: ":80", app_port: 8080 } }
`)));
    expect(found, JSON.stringify(found)).toHaveLength(1);
    expect(found[0]).toMatchObject({ path: "apps.api.deploy.proxy", line: 16 });
    expect(found[0]!.message).toMatch(/^app "web" is already served on :80 for every host on h1/);
  });
});
