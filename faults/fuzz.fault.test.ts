import { createHmac } from "node:crypto";
import fc from "fast-check";
import { stringify } from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { api, E2E_SECRETS, startController, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { faultReport } from "./report.ts";

// Property-based fuzzing of every input the controller takes, against wrangler dev.
const report = faultReport(import.meta.filename);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
// CI runs a fixed seed, so a red run is reproducible and not a coin toss; FUZZ_SEED=random explores
// new inputs (each failure prints its seed and counterexample for a regression test).
const SEED = process.env.FUZZ_SEED === "random" ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261127);
fc.configureGlobal({ seed: SEED });
const SECRETS = Object.values(E2E_SECRETS);
let controller: Controller;
let agent: ScriptedAgent;

const config = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  z-01: { mode: agent }
  z-ssh:
    mode: ssh
    ssh: { address: 127.0.0.1, port: 1, user: deploy, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }
apps:
  web: { repo: acme/web, branches: ["*"], tags: ["*"], hosts: [z-01], deploy: { image: "r/web:{short_sha}", container: web } }
`;

/**
 * Every answer: no 5xx of ours (a 502 naming the relay is the honest answer of the ssh routes
 * when the relay cannot be reached; this controller runs without one), no secret in the body.
 */
async function checked(res: Response): Promise<number> {
  const text = await res.text();
  const relayDown = res.status === 502 && /"code":"relay_unavailable"/.test(text);
  if (!relayDown) expect(res.status, text).toBeLessThan(500);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  return res.status;
}

const counts = { statuses: new Map<string, Map<number, number>>() };
function tally(area: string, status: number) {
  const byStatus = counts.statuses.get(area) ?? new Map<number, number>();
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  counts.statuses.set(area, byStatus);
}
const summary = (area: string) =>
  [...(counts.statuses.get(area) ?? new Map()).entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${n}× ${s}`).join(", ");

/** Job count in history and queue length: what a refused request must not change. */
async function state() {
  const jobs = (await (await api(controller, "/v1/jobs?limit=200")).json()) as { jobs: unknown[] };
  const hosts = (await (await api(controller, "/v1/hosts")).json()) as { hosts: Array<{ queued: number }> };
  const cfg = await api(controller, "/v1/config");
  await cfg.text();
  return { jobs: jobs.jobs.length, queued: hosts.hosts.map((h) => h.queued), config: cfg.headers.get("x-config-version") };
}

beforeAll(async () => {
  controller = await startController();
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  expect(put.status).toBe(200);
  agent = await ScriptedAgent.register(controller, "z-01");
});
afterAll(async () => {
  await controller?.dispose();
});

const jsonValue = fc.jsonValue({ maxDepth: 4 });

it("fuzzes the webhook: body and headers", async () => {
  await report.verify(
    {
      title: "Fuzzing the webhook",
      did: `(seed ${SEED}) ${RUNS} random deliveries: random or missing event and delivery headers, random JSON or bytes, signed right, signed wrong or unsigned; and ${RUNS} signed push-shaped payloads with random refs, shas and repos.`,
      must: "Never a 5xx, never a secret echoed; unsigned or wrongly signed bodies are 401 and store nothing.",
    },
    async () => {
      const before = await state();
      await fc.assert(
        fc.asyncProperty(
          fc.option(fc.oneof(fc.constantFrom("push", "ping", "issues", "create"), fc.string()), { nil: undefined }),
          fc.option(fc.string({ maxLength: 120 }), { nil: undefined }),
          fc.oneof(jsonValue.map((v) => JSON.stringify(v)), fc.string(), fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString("latin1"))),
          fc.constantFrom("right", "wrong", "none"),
          async (event, delivery, body, signing) => {
            const headers: Record<string, string> = { "content-type": "application/json" };
            if (event !== undefined && /^[\x21-\x7e]*$/.test(event)) headers["x-github-event"] = event;
            if (delivery !== undefined && /^[\x21-\x7e]*$/.test(delivery)) headers["x-github-delivery"] = delivery;
            const secret = signing === "right" ? E2E_SECRETS.GITHUB_WEBHOOK_SECRET : "not-the-secret";
            if (signing !== "none") headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
            const status = await checked(await fetch(`${controller.url}/v1/webhooks/github`, { method: "POST", body, headers }));
            tally("webhook", status);
            if (signing !== "right") expect(status).toBe(401);
          },
        ),
        { numRuns: RUNS },
      );
      const afterUnsigned = await state();
      expect(afterUnsigned.jobs).toBe(before.jobs);

      await fc.assert(
        fc.asyncProperty(
          fc.record({
            ref: fc.oneof(fc.string(), fc.constantFrom("refs/heads/main", "refs/tags/v1", "refs/heads/x;touch /tmp/pwned", "refs/heads/$(id)")),
            after: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string()),
            before: fc.option(fc.string(), { nil: undefined }),
            deleted: fc.option(fc.boolean(), { nil: undefined }),
            repository: fc.record({ full_name: fc.oneof(fc.constant("acme/web"), fc.string()) }),
          }),
          async (push) => {
            const body = JSON.stringify(push);
            const signature = `sha256=${createHmac("sha256", E2E_SECRETS.GITHUB_WEBHOOK_SECRET).update(body).digest("hex")}`;
            const status = await checked(
              await fetch(`${controller.url}/v1/webhooks/github`, {
                method: "POST",
                body,
                headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": signature },
              }),
            );
            tally("push", status);
            expect([202, 400]).toContain(status);
          },
        ),
        { numRuns: RUNS },
      );
      return `random deliveries answered ${summary("webhook")}; push-shaped ones ${summary("push")}; no 5xx, no secret; nothing stored for unsigned ones.`;
    },
  );
});

it("fuzzes apps.yaml", async () => {
  await report.verify(
    {
      title: "Fuzzing apps.yaml",
      did: `${RUNS} PUT /v1/config bodies: random text, random YAML documents, and the valid file with one random value replaced.`,
      must: "Never a 5xx or a secret; every refused file is 422 (or 400/413) and leaves the running configuration exactly as it was.",
    },
    async () => {
      const valid = { version: 1, hosts: { "z-01": { mode: "agent" } }, apps: { web: { repo: "acme/web", branches: ["main"], hosts: ["z-01"], deploy: { image: "r/web:{sha}", container: "web" } } } };
      const mutated = fc.tuple(fc.constantFrom("version", "hosts", "apps", "defaults"), jsonValue).map(([key, value]) => stringify({ ...valid, [key]: value }));
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.string({ maxLength: 400 }), jsonValue.map((v) => stringify(v)), mutated), async (yaml) => {
          const before = await state();
          const res = await api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
          const status = await checked(res);
          tally("config", status);
          if (status !== 200) {
            expect([400, 413, 422]).toContain(status);
            expect((await state()).config).toBe(before.config);
          } else {
            // A random document that is valid: put the test's configuration back.
            await (await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } })).text();
          }
        }),
        { numRuns: RUNS },
      );
      return `PUTs answered ${summary("config")}; every refused one left the running version unchanged.`;
    },
  );
});

it("fuzzes the body of every JSON route", async () => {
  await report.verify(
    {
      title: "Fuzzing every JSON route's body",
      did: `${RUNS} random JSON bodies (and some near-valid ones) sent to each of POST /v1/jobs, /v1/deploy/ssh, /v1/ssh/execute, /v1/agents/register, /v1/agents/{id}/heartbeat, /v1/jobs/{id}/status, /v1/jobs/{id}/logs and /v1/jobs/{id}/cancel.`,
      must: "Never a 5xx or a secret (the ssh routes may answer 502 relay_unavailable: this controller runs without a relay); a refused request changes nothing (no job created, no queue changed).",
    },
    async () => {
      const near = fc.record(
        {
          app: fc.oneof(fc.constant("web"), fc.string()),
          repo: fc.string(),
          ref: fc.oneof(fc.constant("main"), fc.string()),
          sha: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string()),
          host: fc.oneof(fc.constantFrom("z-01", "z-ssh"), fc.string()),
          hostname: fc.string(),
          version: fc.string(),
          command: fc.string(),
          timeout_s: fc.integer(),
          status: fc.constantFrom("running", "succeeded", "failed", "bogus"),
          lines: fc.array(fc.record({ seq: fc.integer(), ts: fc.string(), stream: fc.string(), text: fc.string() }), { maxLength: 3 }),
          running_job_id: fc.oneof(fc.constant(null), fc.string()),
        },
        { requiredKeys: [] },
      );
      const routes: Array<{ path: string; token: () => string }> = [
        { path: "/v1/jobs", token: () => E2E_SECRETS.DEPLOYBOT_API_TOKENS },
        { path: "/v1/deploy/ssh", token: () => E2E_SECRETS.DEPLOYBOT_API_TOKENS },
        { path: "/v1/ssh/execute", token: () => E2E_SECRETS.DEPLOYBOT_API_TOKENS },
        { path: "/v1/agents/register", token: () => E2E_SECRETS.AGENT_ENROLL_TOKEN },
        { path: `/v1/agents/${agent.id}/heartbeat`, token: () => agent.token },
        { path: "/v1/jobs/not-a-job/status", token: () => agent.token },
        { path: "/v1/jobs/not-a-job/logs", token: () => agent.token },
        { path: "/v1/jobs/not-a-job/cancel", token: () => E2E_SECRETS.DEPLOYBOT_API_TOKENS },
      ];
      const before = await state();
      for (const route of routes) {
        await fc.assert(
          fc.asyncProperty(fc.oneof(jsonValue, near), async (body) => {
            const res = await fetch(`${controller.url}${route.path}`, {
              method: "POST",
              body: JSON.stringify(body),
              headers: { authorization: `Bearer ${route.token()}`, "content-type": "application/json" },
            });
            tally(route.path.replace(agent.id, "{id}"), await checked(res));
          }),
          { numRuns: RUNS },
        );
      }
      // Valid near-bodies may have queued real deploys of "web" on z-01 (that is not a partial write);
      // refused ones must not have: every job in history must be a valid, complete one.
      const after = (await (await api(controller, "/v1/jobs?limit=200")).json()) as { jobs: Array<Record<string, unknown>> };
      for (const job of after.jobs) expect(job).toMatchObject({ app: "web", host: expect.stringMatching(/^z-/), sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
      return routes.map((r) => `${r.path.replace(agent.id, "{id}")}: ${summary(r.path.replace(agent.id, "{id}"))}`).join("; ") + `. Jobs before: ${before.jobs}, after: ${after.jobs.length}, every one complete and valid.`;
    },
  );
});
