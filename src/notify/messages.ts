import type { AppConfig } from "../config/apps";
import type { NotifyEvent, NotifyTarget } from "../config/notify";
import type { CommitStatusBody, DeploymentBody, DeploymentState, DeploymentStatusBody } from "../github/client";
import { pickJob, type Job, type JobSnapshot } from "../schemas/jobs";
import type { Rollout, RolloutStatus } from "../schemas/rollouts";

/**
 * What DeployBot tells GitHub and the app's `notify:` URLs, as pure functions of a job or rollout:
 * the room (notifications.ts) decides when, and delivers.
 */

const JOB_STATES: Record<Job["status"], DeploymentState> = {
  queued: "queued",
  running: "in_progress",
  succeeded: "success",
  failed: "failure",
  cancelled: "error",
};

const JOB_EVENTS: Partial<Record<Job["status"], NotifyEvent>> = {
  running: "job.started",
  succeeded: "job.succeeded",
  failed: "job.failed",
  cancelled: "job.cancelled",
};

const ROLLOUT_COMMIT_STATES: Record<RolloutStatus, CommitStatusBody["state"]> = {
  held: "pending",
  running: "pending",
  paused: "pending",
  succeeded: "success",
  failed: "failure",
  halted: "failure",
  cancelled: "error",
};

/** A rollout's state for the Deployment someone else created (a `deployment` event) that it serves. */
const ROLLOUT_DEPLOYMENT_STATES: Record<RolloutStatus, DeploymentState> = {
  held: "queued",
  running: "in_progress",
  paused: "in_progress",
  succeeded: "success",
  failed: "failure",
  halted: "failure",
  cancelled: "error",
};

const ROLLOUT_EVENTS: Partial<Record<RolloutStatus, NotifyEvent>> = {
  running: "rollout.started",
  succeeded: "rollout.succeeded",
  failed: "rollout.failed",
  halted: "rollout.halted",
  cancelled: "rollout.cancelled",
};

export const jobState = (status: Job["status"]): DeploymentState => JOB_STATES[status];
export const jobEvent = (status: Job["status"]): NotifyEvent | null => JOB_EVENTS[status] ?? null;
export const rolloutCommitState = (status: RolloutStatus) => ROLLOUT_COMMIT_STATES[status];
export const rolloutDeploymentState = (status: RolloutStatus) => ROLLOUT_DEPLOYMENT_STATES[status];
export const rolloutEvent = (status: RolloutStatus): NotifyEvent | null => ROLLOUT_EVENTS[status] ?? null;

/**
 * The transitions to tell for a snapshot, given the last status told. The hosts' outbox keeps only
 * the newest snapshot of a job still on its way, so a job that started and ended between two
 * deliveries arrives as ended: its start is told first (a GitHub `in_progress`, a `job.started`).
 */
export function stepsSince(previous: Job["status"] | null, job: JobSnapshot): JobSnapshot[] {
  const ended = job.status !== "queued" && job.status !== "running";
  if (ended && job.started_at !== null && (previous === null || previous === "queued")) {
    return [{ ...job, status: "running", finished_at: null, exit_code: null, error: null }, job];
  }
  return [job];
}

/** The GitHub environment of an app's job on `host`: apps.yaml's `environment`, else `<app>/<host>`. */
export const environmentOf = (appName: string, app: AppConfig, host: string) => app.environment ?? `${appName}/${host}`;

/** The dashboard's page of a job or rollout, when DEPLOYBOT_PUBLIC_URL is set. */
export function pageUrl(publicUrl: string | undefined, kind: "jobs" | "rollouts", id: string): string | undefined {
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}/#/${kind}/${encodeURIComponent(id)}` : undefined;
}

/** The Deployment for one job: `ref` is the sha (what is deployed, not where the branch is now). */
export function deploymentBody(job: JobSnapshot, appName: string, app: AppConfig): DeploymentBody {
  return {
    ref: job.sha,
    environment: environmentOf(appName, app, job.host),
    description: `DeployBot: ${appName} to ${job.host}`.slice(0, 140),
    auto_merge: false,
    required_contexts: [],
    ...(app.transient_environment !== undefined ? { transient_environment: app.transient_environment } : {}),
    ...(app.production_environment !== undefined ? { production_environment: app.production_environment } : {}),
    payload: { deploybot: { job_id: job.id, rollout_id: job.rollout_id, app: appName, host: job.host } },
  };
}

/**
 * A Deployment status: `log_url` the dashboard's page, `environment_url` from apps.yaml. Always
 * `auto_inactive: false`: DeployBot marks replaced releases `inactive` itself (notifications.ts).
 */
export function statusBody(state: DeploymentState, description: string, logUrl: string | undefined, app?: AppConfig): DeploymentStatusBody {
  return { state, description, auto_inactive: false, ...(logUrl ? { log_url: logUrl } : {}), ...(app?.environment_url ? { environment_url: app.environment_url } : {}) };
}

/** A status's description: what happened, within GitHub's 140 characters. */
export function describeJob(job: Job): string {
  const text = job.error ? `${job.status}: ${job.error}` : `${job.status} on ${job.host}`;
  return text.slice(0, 140);
}

/** Every host of a rollout, wave by wave. */
export const hostsOf = (rollout: Rollout): string[] => rollout.waves.flatMap((wave) => wave.hosts);

export function describeRollout(rollout: Rollout): string {
  const hosts = hostsOf(rollout).length;
  const text = rollout.error ? `${rollout.status}: ${rollout.error}` : `rollout ${rollout.status} (${hosts} host${hosts === 1 ? "" : "s"})`;
  return text.slice(0, 140);
}

/** The body of a notification: the same for every URL, so it is signed as sent. */
export interface NotificationPayload {
  id: string;
  event: NotifyEvent;
  created_at: string;
  app: string;
  url?: string;
  job?: Job;
  rollout?: Rollout;
}

export function notificationPayload(id: string, event: NotifyEvent, appName: string, now: number, subject: { job?: JobSnapshot; rollout?: Rollout; url?: string }): NotificationPayload {
  return {
    id,
    event,
    created_at: new Date(now).toISOString(),
    app: appName,
    ...(subject.url ? { url: subject.url } : {}),
    ...(subject.job ? { job: pickJob(subject.job) } : {}),
    ...(subject.rollout ? { rollout: subject.rollout } : {}),
  };
}

/** A Slack incoming-webhook message (mrkdwn text) for a payload. */
export function slackMessage(payload: NotificationPayload): { text: string } {
  const link = payload.url ? ` <${payload.url}|details>` : "";
  const { job, rollout } = payload;
  const what = job
    ? `${payload.app} on ${job.host}: ${payload.event} (${job.sha.slice(0, 7)}, ${job.ref})${job.error ? ` — ${job.error}` : ""}`
    : rollout
      ? `${payload.app}: ${payload.event} (${rollout.sha.slice(0, 7)}, ${rollout.ref})${rollout.error ? ` — ${rollout.error}` : ""}`
      : `${payload.app}: ${payload.event} from DeployBot`;
  return { text: `DeployBot · ${what}${link}` };
}

/** The targets of an app that asked for `event` (`test` goes to all). */
export function targetsFor(app: AppConfig | undefined, event: NotifyEvent): NotifyTarget[] {
  return (app?.notify ?? []).filter((target) => event === "test" || (target.events as string[]).includes(event));
}

const encoder = new TextEncoder();

/** `sha256=<hex>` HMAC of the exact body bytes, as GitHub signs its webhooks. */
export async function signBody(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(body));
  return `sha256=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
