import { renderDeploy, type AppsConfig } from "../config/apps";
import type { Env } from "../env";
import type { EnqueueRequest, EnqueueResult } from "./host-queue";
import { hostQueue } from "./stub";

export interface DispatchRequest {
  appName: string;
  host: string;
  ref: string;
  sha: string;
  trigger: EnqueueRequest["trigger"];
  deliveryId: string | null;
}

/** Renders the app's deploy section for one push and queues it on the host's Durable Object. */
export async function dispatch(env: Env, config: AppsConfig, request: DispatchRequest): Promise<EnqueueResult> {
  const app = config.apps[request.appName]!;
  const hostConfig = config.hosts[request.host]!;
  const deploy = renderDeploy(app.deploy, { sha: request.sha, ref: request.ref, repo: app.repo, app: request.appName });
  return hostQueue(env, request.host).enqueue({
    app: request.appName,
    repo: app.repo,
    ref: request.ref,
    sha: request.sha,
    host: request.host,
    mode: hostConfig.mode,
    trigger: request.trigger,
    delivery_id: request.deliveryId,
    deploy,
    lease_s: config.defaults.lease,
    retries: config.defaults.retries,
  });
}
