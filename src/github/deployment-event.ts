import { z } from "zod";
import { appsForRepo, normaliseRef, type AppsConfig } from "../config/apps";
import type { Env } from "../env";
import { startRollout } from "../rollout/start";
import type { Job } from "../schemas/jobs";
import type { Rollout } from "../schemas/rollouts";

/** The fields of GitHub's `deployment` event DeployBot reads. */
export const DeploymentPayload = z.object({
  deployment: z.object({
    id: z.number().int().positive(),
    url: z.string(),
    sha: z.string().regex(/^[0-9a-f]{40}$/, "deployment.sha must be a full commit id"),
    ref: z.string().min(1).max(255),
    environment: z.string().min(1).max(255),
    payload: z.unknown().optional(),
    performed_via_github_app: z.object({ id: z.number() }).nullable().optional(),
  }),
  repository: z.object({ full_name: z.string() }),
});
export type DeploymentPayload = z.infer<typeof DeploymentPayload>;

export type DeploymentOutcome =
  | { outcome: "ignored"; reason: string }
  | { outcome: "queued"; jobs: Job[]; rollouts: Rollout[]; ref: string };

/**
 * Deployments DeployBot made itself (each job's, whose payload names it, or any made by our App)
 * must not start another deploy: GitHub sends their `deployment` events back to us.
 */
export function ownDeployment(event: DeploymentPayload, appId: string | undefined): boolean {
  const payload = event.deployment.payload;
  if (payload && typeof payload === "object" && "deploybot" in payload) return true;
  const via = event.deployment.performed_via_github_app?.id;
  return appId !== undefined && via !== undefined && String(via) === appId;
}

/**
 * The apps (and hosts) a Deployment's environment names: an app whose `environment:` it is (all its
 * hosts), or one host's default environment `<app>/<host>`.
 */
export function targetsOf(config: AppsConfig, event: DeploymentPayload): Array<{ appName: string; hosts?: string[] }> {
  const environment = event.deployment.environment;
  return appsForRepo(config, event.repository.full_name).flatMap(([appName, app]) => {
    if (app.environment === environment) return [{ appName }];
    const host = app.hosts.find((h) => `${appName}/${h}` === environment);
    return host && app.environment === undefined ? [{ appName, hosts: [host] }] : [];
  });
}

/** A `deployment` event: the same rollout a push starts, reporting to the event's Deployment. */
export async function startFromDeployment(env: Env, config: AppsConfig, event: DeploymentPayload, deliveryId: string): Promise<DeploymentOutcome> {
  const { deployment, repository } = event;
  if (ownDeployment(event, env.GITHUB_APP_ID)) return { outcome: "ignored", reason: `deployment ${deployment.id} was created by DeployBot` };
  const targets = targetsOf(config, event);
  if (targets.length === 0) {
    return { outcome: "ignored", reason: `environment "${deployment.environment}" of ${repository.full_name} is not in apps.yaml` };
  }
  // One Deployment, one rollout: apps.yaml gives each environment of a repository to one app (config/notify.ts).
  const { appName, hosts } = targets[0]!;
  const ref = normaliseRef(config.apps[appName]!, deployment.ref);
  const github = { deployment_id: deployment.id, url: deployment.url, environment: deployment.environment };
  const { rollout, jobs } = await startRollout(env, config, { appName, ref, sha: deployment.sha, trigger: "github_deployment", deliveryId, hosts, github });
  return { outcome: "queued", jobs, rollouts: [rollout], ref };
}
