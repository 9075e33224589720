import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/core";
import type { Env } from "../env";

export const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** A call that takes longer than this failed (a hanging GitHub must not hold the outbox forever). */
const DEFAULT_TIMEOUT_MS = 15_000;

/** What DeployBot sends and reads; the room (notify/) decides when. */
export interface GitHub {
  createDeployment(repo: string, body: DeploymentBody): Promise<DeploymentRef>;
  /** A Deployment DeployBot already created for `jobId` (its payload names the job), so a retry reuses it. */
  findDeployment(repo: string, sha: string, environment: string, jobId: string): Promise<DeploymentRef | null>;
  createDeploymentStatus(repo: string, deploymentId: number, body: DeploymentStatusBody): Promise<void>;
  createCommitStatus(repo: string, sha: string, body: CommitStatusBody): Promise<void>;
}

export interface DeploymentRef {
  id: number;
  url: string;
}

export interface DeploymentBody {
  ref: string;
  environment: string;
  description: string;
  auto_merge: false;
  required_contexts: string[];
  transient_environment?: boolean;
  production_environment?: boolean;
  payload: { deploybot: { job_id: string; rollout_id: string | null; app: string; host: string } };
}

export type DeploymentState = "queued" | "in_progress" | "success" | "failure" | "error" | "inactive";
export interface DeploymentStatusBody {
  state: DeploymentState;
  description: string;
  log_url?: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

export interface CommitStatusBody {
  state: "pending" | "success" | "failure" | "error";
  context: string;
  description: string;
  target_url?: string;
}

export interface GitHubOptions {
  baseUrl?: string;
  timeoutMs?: number;
}

/** The settings GitHub needs: App credentials (preferred) or a token. None: null, the feature is off. */
export function githubFrom(env: Env, { timeoutMs = DEFAULT_TIMEOUT_MS }: GitHubOptions = {}): GitHub | null {
  const baseUrl = (env.GITHUB_API_URL || DEFAULT_GITHUB_API_URL).replace(/\/+$/, "");
  if (env.GITHUB_APP_ID && env.GITHUB_APP_PRIVATE_KEY) {
    const app = { appId: env.GITHUB_APP_ID, privateKey: env.GITHUB_APP_PRIVATE_KEY.replace(/\\n/g, "\n") };
    return new OctokitGitHub((owner, repo) => installationClient(baseUrl, app, owner, repo), timeoutMs);
  }
  if (env.GITHUB_TOKEN) {
    const client = new Octokit({ baseUrl, auth: env.GITHUB_TOKEN, userAgent: "deploybot" });
    return new OctokitGitHub(async () => client, timeoutMs);
  }
  return null;
}

/**
 * One client per App and repository owner, kept for the isolate's life: its auth strategy mints an
 * installation token on first use and caches it until shortly before it expires (auth-app's cache),
 * so a busy app does not mint a token per call.
 */
const installations = new Map<string, Promise<Octokit>>();

function installationClient(baseUrl: string, app: { appId: string; privateKey: string }, owner: string, repo: string): Promise<Octokit> {
  const key = `${baseUrl}|${app.appId}|${owner}`;
  let client = installations.get(key);
  if (!client) {
    client = (async () => {
      const asApp = new Octokit({ baseUrl, authStrategy: createAppAuth, auth: app, userAgent: "deploybot" });
      const { data } = await asApp.request("GET /repos/{owner}/{repo}/installation", { owner, repo });
      return new Octokit({ baseUrl, authStrategy: createAppAuth, auth: { ...app, installationId: data.id }, userAgent: "deploybot" });
    })();
    installations.set(key, client);
    // A failed lookup is not cached: the next call asks again.
    client.catch(() => installations.delete(key));
  }
  return client;
}

class OctokitGitHub implements GitHub {
  constructor(
    private readonly clientFor: (owner: string, repo: string) => Promise<Octokit>,
    private readonly timeoutMs: number,
  ) {}

  async createDeployment(full: string, body: DeploymentBody): Promise<DeploymentRef> {
    const [owner, repo] = split(full);
    const client = await this.clientFor(owner, repo);
    const { data, status } = await client.request("POST /repos/{owner}/{repo}/deployments", { owner, repo, ...body, request: this.limits() });
    // 202 is GitHub's "merged the default branch instead" answer; auto_merge is off, so it should never come.
    if (status !== 201 || !("id" in data)) throw new Error(`GitHub did not create the deployment (status ${status})`);
    return { id: Number(data.id), url: data.url };
  }

  async findDeployment(full: string, sha: string, environment: string, jobId: string): Promise<DeploymentRef | null> {
    const [owner, repo] = split(full);
    const client = await this.clientFor(owner, repo);
    const { data } = await client.request("GET /repos/{owner}/{repo}/deployments", { owner, repo, sha, environment, per_page: 100, request: this.limits() });
    const mine = data.find((d) => typeof d.payload === "object" && (d.payload as { deploybot?: { job_id?: string } }).deploybot?.job_id === jobId);
    return mine ? { id: Number(mine.id), url: mine.url } : null;
  }

  async createDeploymentStatus(full: string, deploymentId: number, body: DeploymentStatusBody): Promise<void> {
    const [owner, repo] = split(full);
    const client = await this.clientFor(owner, repo);
    await client.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", { owner, repo, deployment_id: deploymentId, ...body, request: this.limits() });
  }

  async createCommitStatus(full: string, sha: string, body: CommitStatusBody): Promise<void> {
    const [owner, repo] = split(full);
    const client = await this.clientFor(owner, repo);
    await client.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner, repo, sha, ...body, request: this.limits() });
  }

  private limits() {
    return { signal: AbortSignal.timeout(this.timeoutMs) };
  }
}

function split(full: string): [string, string] {
  const [owner, repo] = full.split("/");
  return [owner!, repo!];
}

/**
 * The commit's page on GitHub, where its statuses show: github.com for the public API, the server
 * itself for Enterprise Server (`https://HOST/api/v3`).
 */
export function commitPageUrl(apiUrl: string | undefined, repo: string, sha: string): string {
  const api = (apiUrl || DEFAULT_GITHUB_API_URL).replace(/\/+$/, "");
  const web = api === DEFAULT_GITHUB_API_URL ? "https://github.com" : api.replace(/\/api\/v3$/, "");
  return `${web}/${repo}/commit/${sha}`;
}

/**
 * When a failed call may be tried again: GitHub's `Retry-After` (secondary rate limit, 403 or 429),
 * or the primary limit's reset time when `x-ratelimit-remaining` is 0. Null: use the backoff.
 */
export function retryAfterMs(err: unknown, now: number): number | null {
  const headers = (err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {};
  const after = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(after)) return Math.max(0, after * 1000);
  if (headers["x-ratelimit-remaining"] === "0") {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    if (Number.isFinite(reset)) return Math.max(0, reset - now);
  }
  return null;
}

/** An error's message without anything secret (octokit's messages hold method, URL and GitHub's text). */
export function describeError(err: unknown): string {
  const status = (err as { status?: number }).status;
  const message = err instanceof Error ? err.message : String(err);
  return (status ? `${status}: ` : "") + message.replace(/(token|Bearer)\s+\S+/gi, "$1 [redacted]").slice(0, 300);
}
