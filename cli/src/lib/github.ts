/** What GitHub was told of a job or rollout (`GET /v1/jobs/{id}/github`). */
export interface GitHubStatus {
  deployment_url: string | null;
  last_state: string | null;
  state: "off" | "pending" | "sent" | "retrying";
  error: string | null;
}

/** One line for `ctl jobs show` and the like: the Deployment and its last status, or why not. */
export function describeGitHub(view: GitHubStatus): string {
  const deployment = view.deployment_url ? ` · ${view.deployment_url}` : "";
  switch (view.state) {
    case "off":
      return "off (no GitHub credentials on the controller)";
    case "sent":
      return `${view.last_state ?? "sent"}${deployment}${view.error ? ` (${view.error})` : ""}`;
    case "retrying":
      return `retrying: ${view.error ?? "GitHub did not answer"}${view.last_state ? ` (last sent: ${view.last_state})` : ""}${deployment}`;
    default:
      return `pending${view.last_state ? ` (last sent: ${view.last_state})` : ""}${deployment}`;
  }
}
