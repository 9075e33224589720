import type { AppState } from "./app/app-state";
import type { HostQueue } from "./host/host-queue";
import type { SshRelay } from "./ssh/relay-container";

/** Bindings and secrets of the controller Worker (see wrangler.toml and .dev.vars.example). */
export interface Env {
  DB: D1Database;
  HOST_QUEUE: DurableObjectNamespace<HostQueue>;
  /** One object per app: its rollouts, lock and live releases. */
  APP_STATE: DurableObjectNamespace<AppState>;
  GITHUB_WEBHOOK_SECRET: string;
  /** Comma-separated admin bearer tokens for the API and the CLI. */
  DEPLOYBOT_API_TOKENS: string;
  AGENT_ENROLL_TOKEN: string;
  /** Where the relay listens in local dev and tests; in production the SSH_RELAY container is used instead. */
  SSH_RELAY_URL?: string;
  SSH_RELAY_TOKEN?: string;
  /** Production only: the relay's private key for SSH targets, handed to its container. */
  SSH_PRIVATE_KEY?: string;
  /** Production only: the ssh-relay Cloudflare Container. */
  SSH_RELAY?: DurableObjectNamespace<SshRelay>;
  /** GitHub App credentials (preferred): Deployments and commit statuses go out as the App's installation. */
  GITHUB_APP_ID?: string;
  /** The App's private key (PEM; PKCS#8, or PKCS#1 as GitHub hands it out), newlines or \n escapes. */
  GITHUB_APP_PRIVATE_KEY?: string;
  /** Or a fine-grained token with Deployments and Commit statuses read/write. Neither: GitHub is not told. */
  GITHUB_TOKEN?: string;
  /** GitHub's REST API (default https://api.github.com); GitHub Enterprise Server: https://HOST/api/v3. */
  GITHUB_API_URL?: string;
  /** The dashboard's address, for the log_url of GitHub statuses and links in notifications. */
  DEPLOYBOT_PUBLIC_URL?: string;
  /** Notification signing keys are Worker secrets too, named by apps.yaml's `notify[].secret`. */
  [secret: `NOTIFY_${string}`]: string | undefined;
}

/** Hono's environment for this app: the bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Set by the agent auth middleware once the agent token is verified. */
    agent?: { id: string; hostname: string };
    /** Set by the enroll auth middleware when a host-bound enrollment token was presented. */
    enrollToken?: { hash: string; host: string; singleUse: boolean };
  };
}
