import { z } from "zod";

/** Events a `notify:` entry may ask for. `test` is what `ctl notify test` sends, to every URL. */
export const NOTIFY_EVENTS = [
  "job.started",
  "job.succeeded",
  "job.failed",
  "job.cancelled",
  "rollout.started",
  "rollout.succeeded",
  "rollout.failed",
  "rollout.halted",
  "rollout.cancelled",
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number] | "test";

/** A Worker secret's name: the signing key itself never sits in apps.yaml, which the API shows. */
const SECRET_NAME = /^NOTIFY_[A-Z0-9_]{1,57}$/;

const notifyTarget = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "notify url must be an http(s) URL" }),
  events: z.array(z.enum(NOTIFY_EVENTS, { error: `events are ${NOTIFY_EVENTS.join(", ")}` })).min(1, "name at least one event"),
  /** json: DeployBot's signed payload; slack: an incoming-webhook `{"text"}` message. */
  format: z.enum(["json", "slack"]).default("json"),
  secret: z
    .string()
    .regex(SECRET_NAME, "secret names a Worker secret NOTIFY_<NAME> (upper-case letters, digits and '_'), e.g. NOTIFY_WEB_SECRET; set it with `wrangler secret put`")
    .optional(),
});
export type NotifyTarget = z.infer<typeof notifyTarget>;

/** `notify:` of an app: where its deploy events go. */
export const notifySchema = z.array(notifyTarget).default([]);

/** `environment:` of an app: its GitHub environment name (default `<app>/<host>`, one per host). */
export const environmentSchema = z.string().min(1).max(255).optional();

/** `transient_environment:` / `production_environment:` of an app, passed to GitHub's Deployments as they are. */
export const environmentFlag = z.boolean().optional();

/** `environment_url:` of an app: where the deployed app answers, shown on GitHub's environment. */
export const environmentUrlSchema = z.url({ protocol: /^https?$/, error: "environment_url must be an http(s) URL" }).optional();

interface EnvironmentOwner {
  repo: string;
  hosts: string[];
  environment?: string | undefined;
}

/**
 * One GitHub environment of a repository belongs to one app. A `deployment` event names a repository
 * and an environment, and starts one rollout whose statuses go on that Deployment; one Deployment
 * cannot carry two apps' statuses, so two apps of a repository may not share an environment, named
 * (`environment:`) or taken by default (`<app>/<host>`). Repositories compare as GitHub does, case-insensitively.
 */
export function checkEnvironments(apps: Record<string, EnvironmentOwner>, ctx: z.RefinementCtx): void {
  const owners = new Map<string, string>();
  const key = (repo: string, environment: string) => `${repo.toLowerCase()}\n${environment}`;
  for (const [name, app] of Object.entries(apps)) {
    if (app.environment === undefined) for (const host of app.hosts) owners.set(key(app.repo, `${name}/${host}`), name);
  }
  for (const [name, app] of Object.entries(apps)) {
    if (app.environment === undefined) continue;
    const other = owners.get(key(app.repo, app.environment));
    if (other === undefined) {
      owners.set(key(app.repo, app.environment), name);
      continue;
    }
    ctx.addIssue({
      code: "custom",
      path: ["apps", name, "environment"],
      message: `environment "${app.environment}" of ${app.repo} is already app "${other}"'s; a deployment event for it could start only one of them: give each app its own environment`,
    });
  }
}
