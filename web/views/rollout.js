// @ts-check
import { ApiError, request, session } from "../lib/api.js";
import { badge, duration, h, replace, shortJobId, shortRef, shortSha, time } from "../lib/dom.js";
import { showGitHub } from "../lib/github.js";
import { LiveStream, showStreamState } from "../lib/log-stream.js";
import { confirmAction, errorBox, facts } from "../lib/ui.js";

/** What each action does, as the confirmation says it; which statuses allow it. */
const ACTIONS = {
  pause: { allowed: ["running"], title: "Pause this rollout?", ok: "Pause rollout", danger: false, says: "Jobs already queued or running go on; no new wave starts until it is resumed." },
  resume: { allowed: ["paused"], title: "Resume this rollout?", ok: "Resume rollout", danger: false, says: "It goes on where it stopped: the current wave, or the next one." },
  cancel: { allowed: ["running", "paused", "held"], title: "Cancel this rollout?", ok: "Cancel rollout", danger: true, says: "Its queued jobs and the waves not started are cancelled; jobs already running finish. This cannot be undone." },
};

/**
 * One rollout: its waves with each host's state and job, and pause, resume and cancel, each after
 * a confirmation. Follows the rollout's event stream while it is unfinished.
 * @type {import("../app.js").Page}
 */
export async function rolloutPage({ main, segments }) {
  const id = /** @type {string} */ (segments[1]);
  /** @type {any} */
  let rollout;
  try {
    rollout = await request(`/v1/rollouts/${encodeURIComponent(id)}`);
  } catch (error) {
    main.append(h("h1", { tabindex: "-1" }, "Rollout"), errorBox(error), h("p", null, h("a", { href: "#/apps" }, "All apps")));
    return;
  }

  const heading = h("h1", { tabindex: "-1" });
  const actions = h("div", { class: "actions" });
  const problem = h("div");
  const details = h("div");
  const github = h("p", { class: "github-line" });
  const waves = h("div", { class: "waves" });
  const streamState = h("span", { class: "stream-state", role: "status" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/apps" }, "Apps"), " / ", h("span", { class: "mono" }, shortJobId(id))),
    heading,
    actions,
    problem,
    details,
    github,
    h("div", { class: "log-head" }, h("h2", null, "Waves"), streamState),
    waves,
  );

  /** @param {any} next */
  const show = (next) => {
    rollout = next;
    replace(heading, `${rollout.app} @ ${shortRef(rollout.ref)} `, badge(rollout.status));
    replace(details, facts(describe(rollout)));
    replace(actions, ...buttons(rollout));
    replace(waves, ...rollout.waves.map((/** @type {any} */ wave, /** @type {number} */ i) => waveTable(rollout, wave, i)));
    void showGitHub(`/v1/rollouts/${encodeURIComponent(id)}/github`, github);
  };

  /** @param {"pause" | "resume" | "cancel"} verb */
  const act = async (verb) => {
    const action = ACTIONS[verb];
    const yes = await confirmAction({
      title: action.title,
      body: [h("p", null, `${rollout.app} at ${shortSha(rollout.sha)} (${shortRef(rollout.ref)}), now ${rollout.status}. ${action.says}`)],
      ok: action.ok,
      danger: action.danger,
    });
    if (!yes) return;
    try {
      show(await request(`/v1/rollouts/${encodeURIComponent(id)}/${verb}`, { method: "POST" }));
      replace(problem, h("p", { class: "ok", role: "status" }, `Rollout ${rollout.status}.`));
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  /** @param {any} r */
  function buttons(r) {
    return /** @type {Array<"pause" | "resume" | "cancel">} */ (["pause", "resume", "cancel"])
      .filter((verb) => ACTIONS[verb].allowed.includes(r.status))
      .map((verb) => h("button", { type: "button", class: ACTIONS[verb].danger ? "danger" : "", onclick: () => act(verb) }, `${ACTIONS[verb].ok}…`));
  }

  show(rollout);
  const stream = new LiveStream({
    subject: { rollout_id: id },
    token: session.token ?? "",
    onRollout: show,
    onState: showStreamState(streamState),
    check: async () => {
      try {
        show(await request(`/v1/rollouts/${encodeURIComponent(id)}`));
        return true;
      } catch (error) {
        return !(error instanceof ApiError && error.status === 401);
      }
    },
  }).start();
  // The relative times age; redraw them now and then.
  const tick = setInterval(() => show(rollout), 10_000);

  return () => {
    stream.stop();
    clearInterval(tick);
  };
}

/**
 * @param {any} rollout
 * @returns {Array<[string, Node | string]>}
 */
function describe(rollout) {
  const s = rollout.strategy;
  const plan = [
    s.canary.length ? `canary ${s.canary.join(", ")}` : "no canary",
    s.batch === null ? "then all at once" : `then ${s.batch} at a time`,
    s.pause_s ? `${s.pause_s} s between waves` : "",
    `on failure: ${s.on_failure}`,
  ];
  return [
    ["App", rollout.app],
    ["Ref", rollout.ref],
    ["Trigger", rollout.trigger],
    ["Strategy", plan.filter(Boolean).join("; ")],
    ["Created", time(rollout.created_at)],
    ["Finished", time(rollout.finished_at)],
    ["Took", duration(rollout.created_at, rollout.finished_at)],
    ["Commit", h("code", { class: "sha" }, rollout.sha)],
    ...(rollout.error ? /** @type {Array<[string, Node | string]>} */ ([["Error", h("span", { class: "error-text" }, rollout.error)]]) : []),
  ];
}

/**
 * One wave: a table of its hosts, each with its state and its job (linked to the job's page and log).
 * @param {any} rollout
 * @param {any} wave
 * @param {number} index
 */
function waveTable(rollout, wave, index) {
  const name = index === 0 && rollout.strategy.canary.length ? `Wave 1 (canary)` : `Wave ${index + 1}`;
  const when = wave.started_at ? [" · started ", time(wave.started_at), wave.finished_at ? [", took ", duration(wave.started_at, wave.finished_at)] : ""] : "";
  return h(
    "section",
    { class: "wave", "data-wave": String(index + 1), "aria-label": name },
    h("h3", null, `${name} `, badge(wave.status), h("span", { class: "muted small" }, when)),
    h(
      "table",
      { class: "stack", "aria-label": `${name} hosts` },
      h("thead", null, h("tr", null, ["Host", "State", "Job"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        wave.hosts.map((/** @type {string} */ host, /** @type {number} */ i) => {
          const job = wave.jobs[i];
          return h(
            "tr",
            { "data-host": host },
            h("th", { scope: "row", "data-label": "Host" }, host),
            h("td", { "data-label": "State" }, badge(wave.states[i])),
            h("td", { "data-label": "Job" }, job ? h("a", { href: `#/jobs/${job}`, "aria-label": `Job ${shortJobId(job)} on ${host}: its log` }, shortJobId(job)) : h("span", { class: "muted" }, "not yet")),
          );
        }),
      ),
    ),
  );
}
