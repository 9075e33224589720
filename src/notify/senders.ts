import type { Env } from "../env";
import type { CommitStatusBody, DeploymentBody, DeploymentStatusBody, GitHub } from "../github/client";
import { signBody, slackMessage, type NotificationPayload } from "./messages";

/** One queued outbound call, as stored in `notify_queue.body`. */
export type Outgoing =
  | { kind: "deployment"; repo: string; sha: string; body: DeploymentBody }
  | { kind: "status"; repo: string; body: DeploymentStatusBody }
  | { kind: "commit_status"; repo: string; sha: string; body: CommitStatusBody }
  | { kind: "hook"; url: string; format: "json" | "slack"; secret?: string; payload: NotificationPayload };

/** A failure that says when to try again (Retry-After), or that trying again cannot help. */
export class SendError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

/** HTTP answers that no retry will change: the row is given up after a few tries, so its lane moves on. */
export function isPermanent(status: number | null): boolean {
  return status !== null && [400, 401, 404, 410, 413, 422].includes(status);
}

/**
 * Posts a notification: JSON signed like GitHub's webhooks (`X-DeployBot-Signature-256`, and the
 * delivery id in `X-DeployBot-Delivery`, the same on every retry, so a receiver can drop repeats),
 * or a Slack message. A 2xx is accepted; anything else is retried.
 */
export async function sendHook(env: Env, item: Extract<Outgoing, { kind: "hook" }>, timeoutMs: number): Promise<void> {
  const body = JSON.stringify(item.format === "slack" ? slackMessage(item.payload) : item.payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "DeployBot-Hookshot",
    "x-deploybot-event": item.payload.event,
    "x-deploybot-delivery": item.payload.id,
  };
  if (item.secret) {
    const key = env[item.secret as `NOTIFY_${string}`];
    // A missing secret is the operator's to fix; the row waits (retried) rather than going out unsigned.
    if (!key) throw new SendError(`Worker secret ${item.secret} is not set`, null);
    headers["x-deploybot-signature-256"] = await signBody(key, body);
  }
  let response: Response;
  try {
    response = await fetch(item.url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new SendError(`POST ${new URL(item.url).host} failed: ${err instanceof Error ? err.name : "error"}`, null);
  }
  await response.body?.cancel();
  if (response.ok) return;
  const after = Number(response.headers.get("retry-after"));
  throw new SendError(`${new URL(item.url).host} answered ${response.status}`, response.status, Number.isFinite(after) && after >= 0 && response.headers.has("retry-after") ? after * 1000 : null);
}

/** The GitHub calls of one row; `deploymentId` is the job's Deployment (found or created earlier in the lane). */
export async function sendGitHub(github: GitHub, item: Exclude<Outgoing, { kind: "hook" }>, deploymentId: number | null): Promise<void> {
  if (item.kind === "status") {
    if (deploymentId === null) throw new SendError("the Deployment was not created yet", null);
    await github.createDeploymentStatus(item.repo, deploymentId, item.body);
  } else if (item.kind === "commit_status") {
    await github.createCommitStatus(item.repo, item.sha, item.body);
  }
}
