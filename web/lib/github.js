// @ts-check
import { request } from "./api.js";
import { h, replace } from "./dom.js";

/** Each line's next look while GitHub has not heard yet: one per line, however often the page redraws. */
const rechecks = new WeakMap();
const RECHECK_MS = 2000;

/**
 * The GitHub line of a job's or a rollout's page: the last state GitHub accepted and where to see it
 * (the Deployment; for a rollout, its commit status `deploybot/<app>` on the commit's page), or why
 * nothing was sent (no credentials, retrying with GitHub's error).
 * @param {string} path  `/v1/jobs/{id}/github` or `/v1/rollouts/{id}/github`
 * @param {HTMLElement} line
 */
export async function showGitHub(path, line) {
  /** @type {any} */
  let view;
  try {
    view = await request(path);
  } catch {
    return; // the page's facts stand without it
  }
  const lastSent = view.last_state ? ` (last sent: ${view.last_state})` : "";
  const text =
    view.state === "off" ? "off (no GitHub credentials on the controller)"
    : view.state === "retrying" ? `retrying: ${view.error ?? "GitHub did not answer"}${lastSent}`
    : view.state === "sent" ? `${view.last_state ?? "sent"}${view.error ? ` (${view.error})` : ""}`
    : `pending${lastSent}`;
  const links = [
    view.deployment_url ? h("a", { href: view.deployment_url, rel: "noreferrer" }, "Deployment") : null,
    view.commit_url ? h("a", { href: view.commit_url, rel: "noreferrer" }, "Commit on GitHub") : null,
  ].flatMap((link) => (link ? [" · ", link] : []));
  const context = view.context ? [h("code", null, view.context), " "] : [];
  replace(line, h("strong", null, "GitHub: "), ...context, text, ...links);
  // GitHub hears after the deploy, through the controller's outbox: look again until it has.
  clearTimeout(rechecks.get(line));
  if (view.state === "pending" || view.state === "retrying") {
    rechecks.set(line, setTimeout(() => line.isConnected && void showGitHub(path, line), RECHECK_MS));
  }
}
