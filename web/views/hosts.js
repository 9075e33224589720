// @ts-check
import { request } from "../lib/api.js";
import { badge, h, replace, shortJobId, time } from "../lib/dom.js";
import { confirmAction, errorBox, poll } from "../lib/ui.js";

/** How often the host list is read again while the page is open. */
const REFRESH_MS = 3000;

/**
 * Every host in apps.yaml: mode, online or not and when it was last seen (an agent's heartbeat, or the
 * ssh-relay's last connection to an ssh host, and since when it cannot reach it), the running job and the
 * queue. Polls the first page of /v1/hosts every few seconds while the tab is visible.
 * @type {import("../app.js").Page}
 */
export function hostsPage({ main }) {
  const body = h("div", { class: "table-wrap" });
  const updated = h("p", { class: "muted small", "aria-live": "off" });
  const problem = h("div");
  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Hosts"), h("a", { class: "button primary", href: "#/deploy" }, "Deploy")),
    problem,
    body,
    updated,
  );

  /** @type {Map<string, any>} */
  const jobs = new Map();
  /** @type {() => void} */
  let refresh = () => undefined;

  /** Revokes a host's agent after a confirmation (DELETE /v1/agents/{id}). @param {any} host */
  const revoke = async (host) => {
    const yes = await confirmAction({
      title: "Revoke this agent?",
      body: [
        h("p", null, `Agent ${host.agent_id} on ${host.name}. Its token is refused at once and a job it runs ends as failed.`),
        h("p", null, "It stays out until someone deletes its state file on the host and starts it again."),
      ],
      ok: "Revoke agent",
      danger: true,
    });
    if (!yes) return;
    try {
      const done = await request(`/v1/agents/${encodeURIComponent(host.agent_id)}`, { method: "DELETE" });
      const ended = done.failed_jobs.length ? ` Its job ${done.failed_jobs.join(", ")} ended.` : "";
      replace(problem, h("p", { class: "ok", role: "status" }, `Agent ${done.agent_id.slice(0, 8)} on ${done.hostname} revoked.${ended}`));
      refresh();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  return poll(async (signal) => {
    try {
      // One page (the first 100 hosts): polling every host of a large fleet every few seconds would cost the fleet.
      const { hosts, next_cursor: more, total } = await request("/v1/hosts", { signal });
      // The running job's app and ref make the row readable; jobs are fetched once each.
      await Promise.all(
        hosts
          .filter((/** @type {any} */ host) => host.running_job_id && !jobs.has(host.running_job_id))
          .map(async (/** @type {any} */ host) => jobs.set(host.running_job_id, await request(`/v1/jobs/${host.running_job_id}`, { signal }).catch(() => null))),
      );
      if (!problem.querySelector("[role=status]")) replace(problem);
      replace(body, table(hosts, jobs, revoke));
      const partial = more ? `Showing the first ${hosts.length} of ${total} hosts (ctl hosts lists them all). ` : "";
      updated.textContent = `${partial}Updated ${new Date().toLocaleTimeString("en-GB")}; refreshes every ${REFRESH_MS / 1000} s.`;
    } catch (error) {
      if (!signal.aborted) replace(problem, errorBox(error));
    }
  }, REFRESH_MS, (again) => (refresh = again));
}

/**
 * @param {any[]} hosts
 * @param {Map<string, any>} jobs
 * @param {(host: any) => void} revoke
 */
function table(hosts, jobs, revoke) {
  if (hosts.length === 0) return h("p", null, "No hosts in apps.yaml yet.");
  return h(
    "table",
    { class: "stack", "aria-label": "Hosts" },
    h("thead", null, h("tr", null, ["Host", "Mode", "State", "Last seen", "Running", "Queued", "Agent"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      hosts.map((host) => {
        const job = host.running_job_id ? jobs.get(host.running_job_id) : null;
        return h(
          "tr",
          { "data-host": host.name },
          h("th", { scope: "row", "data-label": "Host" }, h("a", { href: `#/jobs?host=${encodeURIComponent(host.name)}` }, host.name)),
          h("td", { "data-label": "Mode" }, host.mode),
          h("td", { "data-label": "State" }, host.mode === "ssh" ? sshState(host) : badge(host.online ? "online" : "offline")),
          h("td", { "data-label": "Last seen" }, time(host.mode === "ssh" ? host.last_connected_at : host.last_heartbeat_at, "never")),
          h(
            "td",
            { "data-label": "Running" },
            host.running_job_id
              ? h("a", { href: `#/jobs/${host.running_job_id}` }, job ? `${job.app} @ ${job.sha.slice(0, 7)}` : shortJobId(host.running_job_id))
              : h("span", { class: "muted" }, "idle"),
          ),
          h("td", { "data-label": "Queued", class: "num" }, String(host.queued)),
          h(
            "td",
            { "data-label": "Agent" },
            host.mode === "agent" && host.agent_id
              ? [
                  h("span", { class: "mono", title: host.agent_id }, host.agent_id.slice(0, 8)),
                  " ",
                  h("button", { type: "button", class: "danger small", "aria-label": `Revoke the agent of ${host.name}`, onclick: () => revoke(host) }, "Revoke…"),
                ]
              : h("span", { class: "muted" }, "-"),
          ),
        );
      }),
    ),
  );
}

/**
 * An ssh host as the relay knows it: reachable, unreachable since a time and why, or not known yet (the
 * relay has not tried, or could not be asked: the reason is shown).
 * @param {any} host
 */
function sshState(host) {
  if (host.reachable === true) return [badge("reachable"), " ", h("span", { class: "muted small" }, "via SSH")];
  const why = host.reach_error ? h("div", { class: "muted small reach-error" }, `${host.reach_error.code}: ${host.reach_error.message}`) : null;
  if (host.reachable === false) return [badge("unreachable"), " ", h("span", { class: "muted small" }, "since "), time(host.unreachable_since), why];
  return [badge("unknown"), " ", h("span", { class: "muted small" }, host.reach_error ? "via SSH" : "via SSH, checking…"), why];
}
