// @ts-check
import { ApiError, request, session } from "../lib/api.js";
import { badge, duration, h, replace, shortJobId, shortRef, time } from "../lib/dom.js";
import { showGitHub } from "../lib/github.js";
import { LiveStream, showStreamState } from "../lib/log-stream.js";
import { LogView } from "../lib/log-view.js";
import { confirmAction, errorBox, facts } from "../lib/ui.js";

const FINISHED = ["succeeded", "failed", "cancelled"];

/**
 * One job: its facts, cancel and redeploy, and its log, live while the job runs.
 * @type {import("../app.js").Page}
 */
export async function jobPage({ main, segments, navigate }) {
  const id = /** @type {string} */ (segments[1]);
  /** @type {any} */
  let job;
  try {
    job = await fetchJob(id);
  } catch (error) {
    main.append(h("h1", { tabindex: "-1" }, "Job"), errorBox(error), h("p", null, h("a", { href: "#/jobs" }, "All jobs")));
    return;
  }

  const heading = h("h1", { tabindex: "-1" });
  const details = h("div");
  const actions = h("div", { class: "actions" });
  const problem = h("div");
  const github = h("p", { class: "github-line" });
  const streamState = h("span", { class: "stream-state", role: "status" });
  const log = new LogView({ label: "Job log", fileName: `job-${id}.log` });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", h("span", { class: "mono" }, shortJobId(id))),
    heading,
    actions,
    problem,
    details,
    github,
    h("div", { class: "log-head" }, h("h2", null, "Log"), streamState),
    log.element,
  );

  /** @param {any} next */
  const show = (next) => {
    job = next;
    replace(heading, `${job.app} @ ${shortRef(job.ref)} on ${job.host} `, badge(job.status));
    replace(details, facts(describe(job)));
    replace(actions, ...buttons(job));
    void showGitHub(`/v1/jobs/${id}/github`, github);
  };

  const cancel = async () => {
    const yes = await confirmAction({
      title: "Cancel this job?",
      body: [h("p", null, `${job.app} at ${job.sha.slice(0, 7)} on ${job.host}, now ${job.status}. `, job.status === "running" ? "The agent stops it on its next heartbeat." : "It will not run.")],
      ok: "Cancel job",
      danger: true,
    });
    if (!yes) return;
    try {
      const res = await request(`/v1/jobs/${id}/cancel`, { method: "POST", raw: true });
      show(await res.json());
      replace(problem, h("p", { class: "ok", role: "status" }, res.status === 202 ? "Cancel requested: the agent stops the job on its next heartbeat." : "Job cancelled."));
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const redeploy = async () => {
    const yes = await confirmAction({
      title: "Redeploy this commit?",
      body: [
        h("p", null, `Deploys ${job.app} at `, h("code", null, job.sha.slice(0, 12)), ` (${shortRef(job.ref)}) to ${job.host} again, as a rollback.`),
        h("p", { class: "muted" }, "It queues behind the host's current work."),
      ],
      ok: "Redeploy",
    });
    if (!yes) return;
    try {
      const res = await request("/v1/jobs", { method: "POST", raw: true, body: { app: job.app, ref: job.ref, sha: job.sha, host: job.host, rollback: true } });
      const created = await res.json();
      navigate(`#/jobs/${created.id}`, res.status === 201 ? `Rollback queued as job ${shortJobId(created.id)}.` : `That deploy is already ${created.status}: showing job ${shortJobId(created.id)}.`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  /** @param {any} j */
  function buttons(j) {
    return [
      !FINISHED.includes(j.status) ? h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel job") : null,
      FINISHED.includes(j.status) ? h("button", { type: "button", onclick: redeploy }, "Redeploy this commit") : null,
      h("a", { class: "button quiet", href: `#/deploy?app=${encodeURIComponent(j.app)}&host=${encodeURIComponent(j.host)}&ref=${encodeURIComponent(shortRef(j.ref))}` }, "New deploy…"),
    ];
  }

  show(job);
  const stream = new LiveStream({
    subject: { job_id: id },
    token: session.token ?? "",
    onLine: (line) => log.push(line),
    onStatus: show,
    onState: showStreamState(streamState),
    check: async () => {
      try {
        await request(`/v1/jobs/${id}`);
        return true;
      } catch (error) {
        return !(error instanceof ApiError && error.status === 401);
      }
    },
  }).start();
  // The relative times in the facts age; redraw them now and then.
  const tick = setInterval(() => replace(details, facts(describe(job))), 10_000);

  return () => {
    stream.stop();
    log.dispose();
    clearInterval(tick);
  };
}

/**
 * A job is in D1 moments after it is queued; a page opened right after a deploy waits for it.
 * @param {string} id
 */
async function fetchJob(id) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(`/v1/jobs/${id}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404) || attempt >= 15) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * @param {any} job
 * @returns {Array<[string, Node | string]>}
 */
function describe(job) {
  return [
    ["App", job.app],
    ["Repository", job.repo],
    ["Ref", job.ref],
    ["Host", h("a", { href: `#/jobs?host=${encodeURIComponent(job.host)}` }, job.host)],
    ["Mode", job.mode],
    ["Trigger", job.trigger],
    ["Attempt", String(job.attempt)],
    ["Agent", job.agent_id ?? "—"],
    ["Exit code", job.exit_code === null ? "—" : String(job.exit_code)],
    ["Created", time(job.created_at)],
    ["Started", time(job.started_at)],
    ["Finished", time(job.finished_at)],
    ["Took", duration(job.started_at, job.finished_at)],
    ["Commit", h("code", { class: "sha" }, job.sha)],
    ...(job.error ? /** @type {Array<[string, Node | string]>} */ ([["Error", h("span", { class: "error-text" }, job.error)]]) : []),
  ];
}
