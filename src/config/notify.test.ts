import { describe, expect, it } from "vitest";
import { parseAppsYaml } from "./apps";

const yaml = (extra: string) => `version: 1
hosts: { h1: { mode: agent } }
apps:
  web:
    repo: acme/web
    branches: [main]
    hosts: [h1]
    deploy: { image: "x:{sha}", container: web }
${extra}`;

describe("apps.yaml notify, environment and its flags", () => {
  it("accepts them, with json the default format", () => {
    const result = parseAppsYaml(yaml(`    environment: production
    production_environment: true
    environment_url: https://web.example.com
    notify:
      - { url: "https://hooks.example.com/x", events: [job.failed, rollout.succeeded], secret: NOTIFY_WEB }
`));
    expect(result.ok && result.config.apps.web).toMatchObject({
      environment: "production",
      production_environment: true,
      environment_url: "https://web.example.com",
      notify: [{ url: "https://hooks.example.com/x", events: ["job.failed", "rollout.succeeded"], format: "json", secret: "NOTIFY_WEB" }],
    });
  });

  it("reports an unknown event, a bad URL and a secret that is not a NOTIFY_ name at their lines and columns", () => {
    const result = parseAppsYaml(yaml(`    notify:
      - url: ftp://x
        events: [job.failed, job.exploded]
        secret: hunter2
`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ["apps.web.notify.0.url", 10, 14],
      ["apps.web.notify.0.events.1", 11, 30],
      ["apps.web.notify.0.secret", 12, 17],
    ]);
    expect(result.problems[1]!.message).toMatch(/events are job.started/);
    expect(result.problems[2]!.message).toMatch(/NOTIFY_/);
  });

  it("refuses two apps of one repository in one GitHub environment, named or by default, at the second's line and column", () => {
    const app = (name: string, repo: string, extra: string) => `  ${name}:
    repo: ${repo}
    branches: [main]
    hosts: [h1]
    deploy: { image: "x:{sha}", container: ${name} }
${extra}`;
    const result = parseAppsYaml(yaml(`    environment: production
${app("worker", "ACME/web", "    environment: production\n")}${app("api", "acme/web", "    environment: web/h1\n")}${app("docs", "acme/docs", "    environment: production\n")}`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ["apps.worker.environment", 15, 18],
    ]);
    expect(result.problems[0]!.message).toBe('environment "production" of ACME/web is already app "web"\'s; a deployment event for it could start only one of them: give each app its own environment');

    // web keeps its default environments (web/h1): an app that names one of them is refused too.
    const taken = parseAppsYaml(yaml(app("api", "acme/web", "    environment: web/h1\n")));
    expect(!taken.ok && taken.problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ["apps.api.environment", 14, 'environment "web/h1" of acme/web is already app "web"\'s; a deployment event for it could start only one of them: give each app its own environment'],
    ]);
    // Other repositories, and distinct names, are fine.
    expect(parseAppsYaml(yaml(`    environment: production\n${app("docs", "acme/docs", "    environment: production\n")}${app("worker", "acme/web", "    environment: production-worker\n")}`)).ok).toBe(true);
  });
});
