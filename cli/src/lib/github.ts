/** What GitHub was told of a job or rollout (`GET /v1/jobs/{id}/github`, `GET /v1/rollouts/{id}/github`). */
export interface GitHubStatus {
  deployment_url: string | null;
  last_state: string | null;
  state: "off" | "pending" | "sent" | "retrying";
  error: string | null;
  /** A rollout's commit status context (`deploybot/<app>`) and the commit's page; null for a job. */
  context?: string | null;
  commit_url?: string | null;
}

/**
 * One line for `ctl jobs show` and `ctl rollouts show`: the last state GitHub accepted and where to
 * see it (the Deployment, the commit's page), or why nothing was sent (no credentials, retrying).
 */
export function describeGitHub(view: GitHubStatus): string {
  const context = view.context ? `${view.context} ` : "";
  const links = [view.deployment_url, view.commit_url].filter((url): url is string => Boolean(url)).map((url) => ` · ${url}`).join("");
  const lastSent = view.last_state ? ` (last sent: ${view.last_state})` : "";
  switch (view.state) {
    case "off":
      return `${context}off (no GitHub credentials on the controller)`;
    case "sent":
      return `${context}${view.last_state ?? "sent"}${view.error ? ` (${view.error})` : ""}${links}`;
    case "retrying":
      return `${context}retrying: ${view.error ?? "GitHub did not answer"}${lastSent}${links}`;
    default:
      return `${context}pending${lastSent}${links}`;
  }
}
