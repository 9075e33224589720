import type { AppsConfig } from "../config/apps";
import { strategyOf } from "../app/plan";
import { appState } from "../app/stub";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { appSpec } from "../host/dispatch";
import type { EnqueueRequest } from "../host/contract";
import type { Job } from "../schemas/jobs";
import type { Rollout } from "../schemas/rollouts";

export interface StartRolloutRequest {
  appName: string;
  ref: string;
  sha: string;
  trigger: EnqueueRequest["trigger"];
  /** The GitHub delivery that asked for it: a repeated delivery finds the same rollout. */
  deliveryId: string | null;
  /** A subset of the app's hosts (default: all of them, in apps.yaml order). */
  hosts?: string[] | undefined;
  /** A `deployment` event's Deployment: the rollout posts its statuses there instead of making its own. */
  github?: { deployment_id: number; url: string | null; environment: string } | undefined;
}

/**
 * One release of one app to its hosts, as a rollout in the app's object: the webhook's pushes,
 * `POST /v1/rollouts` (`ctl deploy` without `--host`, `ctl rollback --app`) and GitHub deployment
 * events all start here. Answers once the first wave's jobs are queued, with those jobs.
 */
export async function startRollout(env: Env, config: AppsConfig, request: StartRolloutRequest): Promise<{ rollout: Rollout; jobs: Job[] }> {
  const app = config.apps[request.appName];
  if (!app) throw new ApiError(404, "unknown_app", `app "${request.appName}" is not in apps.yaml`);
  const hosts = request.hosts ? app.hosts.filter((host) => request.hosts!.includes(host)) : app.hosts;
  const strangers = (request.hosts ?? []).filter((host) => !app.hosts.includes(host));
  if (strangers.length) {
    throw new ApiError(422, "host_not_in_app", `app "${request.appName}" does not deploy to ${strangers.join(", ")} (its hosts: ${app.hosts.join(", ")})`);
  }
  return appState(env, request.appName).create({
    id: `${request.appName}.${crypto.randomUUID()}`,
    app: request.appName,
    ref: request.ref,
    sha: request.sha,
    trigger: request.trigger,
    delivery_id: request.deliveryId,
    hosts,
    strategy: strategyOf(app.rollout),
    spec: appSpec(config, request.appName),
    github: request.github ? { deployment_id: request.github.deployment_id, url: request.github.url } : undefined,
  });
}
