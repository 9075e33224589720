import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppState } from "../src/app/app-state";
import { appStub, callJson, putConfig, sendWebhook, sha } from "./helpers";
import { received } from "./notify-helpers";

const config = `version: 1
hosts:
  nr-01: { mode: agent }
apps:
  loud:
    repo: acme-nr/loud
    branches: [main]
    hosts: [nr-01]
    notify:
      - { url: "http://hooks.test/routes-test", events: [rollout.failed], secret: NOTIFY_TEST_SECRET }
    deploy: { image: "registry.test/loud:{sha}", container: loud }
  quiet:
    repo: acme-nr/quiet
    branches: [main]
    hosts: [nr-01]
    deploy: { image: "registry.test/quiet:{sha}", container: quiet }
`;

beforeAll(async () => {
  const res = await putConfig(config);
  expect(res.status, await res.clone().text()).toBe(200);
});

describe("notify and GitHub routes", () => {
  it("POST /v1/apps/{name}/notify/test sends a signed test event to each URL", async () => {
    const { status, body } = await callJson<{ deliveries: string[] }>("/v1/apps/loud/notify/test", { method: "POST" });
    expect(status).toBe(202);
    expect(body.deliveries).toHaveLength(1);
    await runInDurableObject(appStub("loud"), (instance: AppState) => instance.notifications.flush());
    const { seen } = await received("/routes-test");
    expect(seen.map((s) => [s.delivery, s.event, s.verified, s.payload.app])).toEqual([[body.deliveries[0], "test", true, "loud"]]);
  });

  it("refuses an app without notify URLs (422) and an unknown app (404)", async () => {
    expect(await callJson("/v1/apps/quiet/notify/test", { method: "POST" })).toMatchObject({ status: 422, body: { error: { code: "no_notify_urls" } } });
    expect(await callJson("/v1/apps/nope/notify/test", { method: "POST" })).toMatchObject({ status: 404, body: { error: { code: "unknown_app" } } });
  });

  it("GET /v1/jobs/{id}/github and /v1/rollouts/{id}/github say GitHub is off without credentials, and 404 for no such job", async () => {
    const res = await sendWebhook("push", { ref: "refs/heads/main", after: sha(8101), repository: { full_name: "acme-nr/quiet" } });
    const { jobs } = (await res.json()) as { jobs: Array<{ id: string }> };
    const { status, body } = await callJson(`/v1/jobs/${jobs[0]!.id}/github`);
    expect(status).toBe(200);
    expect(body).toEqual({ deployment_url: null, last_state: null, state: "off", error: null, context: null, commit_url: null });
    expect((await callJson("/v1/jobs/nr-01.nope/github")).status).toBe(404);
    const { rollouts } = (await (await sendWebhook("push", { ref: "refs/heads/main", after: sha(8102), repository: { full_name: "acme-nr/quiet" } })).json()) as { rollouts: Array<{ id: string }> };
    expect(await callJson(`/v1/rollouts/${rollouts[0]!.id}/github`)).toMatchObject({
      status: 200,
      body: { deployment_url: null, last_state: null, state: "off", error: null, context: "deploybot/quiet", commit_url: null },
    });
    expect((await callJson("/v1/rollouts/quiet.nope/github")).status).toBe(404);
  });

  it("/openapi.json describes the notification payload in its webhooks section, and what GitHub was told of a job or rollout", async () => {
    const { body } = await callJson("/openapi.json", { token: null });
    for (const path of ["/v1/jobs/{id}/github", "/v1/rollouts/{id}/github"]) {
      expect(body.paths[path].get.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/GitHubStatus" });
    }
    expect(Object.keys(body.components.schemas.GitHubStatus.properties)).toEqual(["deployment_url", "last_state", "state", "error", "context", "commit_url"]);
    const hook = Object.values(body.webhooks as Record<string, any>)[0];
    expect(hook.post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Notification" });
    expect(body.components.schemas.Notification.properties.event.enum).toContain("job.failed");
  });
});
