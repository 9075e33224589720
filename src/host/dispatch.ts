import { drizzle } from "drizzle-orm/d1";
import { appsForRepo, normaliseRef, renderDeploy, type AppConfig, type AppsConfig, type HostConfig } from "../config/apps";
import { latestPushedSha } from "../db/queries";
import { ApiError } from "../errors";
import type { Env } from "../env";
import type { EnqueueRequest, EnqueueResult } from "./contract";
import { hostQueue } from "./stub";
import { sshTarget } from "../ssh/target";

export interface DispatchRequest {
  appName: string;
  host: string;
  ref: string;
  sha: string;
  trigger: EnqueueRequest["trigger"];
  deliveryId: string | null;
  rolloutId?: string | null;
}

/**
 * What apps.yaml says about one app, as a rollout carries it: enough to render any of its jobs
 * later (a next wave, a rollback) without reading the configuration, or D1, again.
 */
export interface AppSpec {
  app: AppConfig;
  hosts: Record<string, HostConfig>;
  defaults: AppsConfig["defaults"];
}

export function appSpec(config: AppsConfig, appName: string): AppSpec {
  const app = config.apps[appName]!;
  return { app, hosts: Object.fromEntries(app.hosts.map((host) => [host, config.hosts[host]!])), defaults: config.defaults };
}

/** An app's deploy section rendered for one push, as the JSON a host stores (the same for every host of the push). */
export function renderedDeploy(spec: AppSpec, request: Pick<DispatchRequest, "appName" | "ref" | "sha">): string {
  return JSON.stringify(renderDeploy(spec.app.deploy, { sha: request.sha, ref: request.ref, repo: spec.app.repo, app: request.appName }));
}

/** The job a host's object queues for one push of one app. `deploy`: renderedDeploy's, when a wave's hosts share it. */
export function buildRequest(spec: AppSpec, request: DispatchRequest, deploy = renderedDeploy(spec, request)): EnqueueRequest {
  const { app } = spec;
  const hostConfig = spec.hosts[request.host]!;
  return {
    app: request.appName,
    repo: app.repo,
    ref: request.ref,
    sha: request.sha,
    host: request.host,
    mode: hostConfig.mode,
    trigger: request.trigger,
    delivery_id: request.deliveryId,
    deploy,
    lease_s: spec.defaults.lease,
    retries: spec.defaults.retries,
    target: hostConfig.mode === "ssh" ? sshTarget(request.host, hostConfig.ssh) : null,
    rollout_id: request.rolloutId ?? null,
  };
}

/** Renders the app's deploy section for one push and queues it on the host's Durable Object. */
export async function dispatch(env: Env, config: AppsConfig, request: DispatchRequest): Promise<EnqueueResult> {
  return hostQueue(env, request.host).enqueue(buildRequest(appSpec(config, request.appName), request));
}

/** The app a manual deploy means: by name, or the one app of `repo` that runs on `host`. */
function resolveApp(config: AppsConfig, body: { app?: string | undefined; repo?: string | undefined; host: string }): string {
  if (body.app) {
    if (!(body.app in config.apps)) throw new ApiError(404, "unknown_app", `app "${body.app}" is not in apps.yaml`);
    return body.app;
  }
  const candidates = appsForRepo(config, body.repo!);
  if (candidates.length === 0) throw new ApiError(404, "unknown_repo", `repository "${body.repo}" is not in apps.yaml`);
  const onHost = candidates.filter(([, app]) => app.hosts.includes(body.host));
  if (onHost.length === 1) return onHost[0]![0];
  if (onHost.length === 0) return candidates[0]![0]; // reported below as "not a host of this app"
  throw new ApiError(422, "ambiguous_repo", `repository "${body.repo}" has several apps on ${body.host} (${onHost.map(([n]) => n).join(", ")}); give "app"`);
}

export interface DeployRequest {
  app?: string | undefined;
  repo?: string | undefined;
  ref: string;
  sha?: string | undefined;
  host: string;
  rollback?: boolean | undefined;
}

/**
 * A manual deploy (`POST /v1/jobs`, `POST /v1/deploy/ssh`, `ctl deploy`): resolves the app,
 * checks the host, expands the ref and, without a sha, takes the newest one GitHub pushed to it.
 */
export async function queueDeploy(
  env: Env,
  config: AppsConfig,
  body: DeployRequest,
  { mode }: { mode?: "agent" | "ssh" } = {},
): Promise<EnqueueResult> {
  const hostConfig = config.hosts[body.host];
  if (!hostConfig) throw new ApiError(404, "unknown_host", `host "${body.host}" is not in apps.yaml`);
  if (mode && hostConfig.mode !== mode) {
    throw new ApiError(409, `not_an_${mode}_host`, `host "${body.host}" has mode: ${hostConfig.mode}; this route deploys to hosts with mode: ${mode}`);
  }
  const appName = resolveApp(config, body);
  const app = config.apps[appName]!;
  if (!app.hosts.includes(body.host)) {
    throw new ApiError(422, "host_not_in_app", `app "${appName}" does not deploy to ${body.host} (its hosts: ${app.hosts.join(", ")})`);
  }
  const ref = normaliseRef(app, body.ref);
  const sha = body.sha ?? (await latestPushedSha(drizzle(env.DB), app.repo, ref));
  if (!sha) throw new ApiError(422, "unknown_sha", `no push to ${ref} of ${app.repo} has been seen; give "sha"`);
  return dispatch(env, config, { appName, host: body.host, ref, sha, trigger: body.rollback ? "rollback" : "api", deliveryId: null });
}
