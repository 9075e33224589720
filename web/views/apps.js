// @ts-check
import { request } from "../lib/api.js";
import { badge, duration, h, replace, shortJobId, shortRef, shortSha, time } from "../lib/dom.js";
import { confirmAction, errorBox, poll } from "../lib/ui.js";

/** How often the matrix is read again while the page is open. */
const REFRESH_MS = 3000;

/**
 * What runs where: one row per app, one column per host, each cell the release it runs (short
 * sha, linked to the job that put it there, and for how long), the rollout in progress and the
 * app's lock, with lock and unlock after a confirmation. Polls /v1/apps while the tab is visible.
 * @type {import("../app.js").Page}
 */
export function appsPage({ main }) {
  const body = h("div", { class: "table-wrap" });
  const updated = h("p", { class: "muted small", "aria-live": "off" });
  const problem = h("div");
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Apps"), h("a", { class: "button primary", href: "#/deploy" }, "Deploy")), problem, body, updated);

  /** @type {() => void} */
  let refresh = () => undefined;

  /** @param {string} text */
  const done = (text) => {
    replace(problem, h("p", { class: "ok", role: "status" }, text));
    refresh();
  };

  /** Locks an app after asking why (POST /v1/apps/{name}/lock). @param {any} app */
  const lock = async (app) => {
    const reason = h("input", { id: "lock-reason", maxlength: "500", autocomplete: "off" });
    const by = h("input", { id: "lock-by", maxlength: "100", autocomplete: "name" });
    const yes = await confirmAction({
      title: `Lock ${app.name}?`,
      body: [
        h("p", null, "Its pushes and rollouts are held until it is unlocked; the newest held one starts then."),
        h("div", { class: "field" }, h("label", { for: "lock-reason" }, "Why"), reason),
        h("div", { class: "field" }, h("label", { for: "lock-by" }, "Who (optional)"), by),
      ],
      ok: "Lock app",
      danger: true,
    });
    const why = /** @type {HTMLInputElement} */ (reason).value.trim();
    if (!yes) return;
    if (!why) return replace(problem, errorBox(`Not locked: say why ${app.name} is locked.`));
    const who = /** @type {HTMLInputElement} */ (by).value.trim();
    try {
      await request(`/v1/apps/${encodeURIComponent(app.name)}/lock`, { method: "POST", body: who ? { reason: why, by: who } : { reason: why } });
      done(`${app.name} locked.`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  /** Unlocks an app after a confirmation (DELETE /v1/apps/{name}/lock). @param {any} app */
  const unlock = async (app) => {
    const held = app.held.length ? ` The newest of its ${app.held.length} held rollout(s) starts now; older ones are superseded.` : "";
    const yes = await confirmAction({
      title: `Unlock ${app.name}?`,
      body: [h("p", null, `Locked by ${app.lock.locked_by}: “${app.lock.reason}”.${held}`)],
      ok: "Unlock app",
    });
    if (!yes) return;
    try {
      await request(`/v1/apps/${encodeURIComponent(app.name)}/lock`, { method: "DELETE" });
      done(`${app.name} unlocked.`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  return poll(async (signal) => {
    try {
      const { apps } = await request("/v1/apps", { signal });
      if (!problem.querySelector("[role=status]")) replace(problem);
      replace(body, matrix(apps, { lock, unlock }));
      updated.textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}; refreshes every ${REFRESH_MS / 1000} s.`;
    } catch (error) {
      if (!signal.aborted) replace(problem, errorBox(error));
    }
  }, REFRESH_MS, (again) => (refresh = again));
}

/**
 * @param {any[]} apps
 * @param {{ lock: (app: any) => void, unlock: (app: any) => void }} act
 */
function matrix(apps, act) {
  if (apps.length === 0) return h("p", null, "No apps in apps.yaml yet.");
  const hosts = [...new Set(apps.flatMap((app) => app.hosts))].sort();
  return h(
    "table",
    { class: "stack matrix", "aria-label": "Apps by host" },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "App"), h("th", { scope: "col" }, "Rollout"), h("th", { scope: "col" }, "Lock"), hosts.map((host) => h("th", { scope: "col" }, host)))),
    h(
      "tbody",
      null,
      apps.map((app) =>
        h(
          "tr",
          { "data-app": app.name },
          h("th", { scope: "row", "data-label": "App" }, h("a", { href: `#/jobs?app=${encodeURIComponent(app.name)}` }, app.name), h("span", { class: "muted small" }, app.repo)),
          h("td", { "data-label": "Rollout", class: "rollout" }, rolloutCell(app)),
          h("td", { "data-label": "Lock", class: "lock" }, lockCell(app, act)),
          hosts.map((host) => releaseCell(app, host)),
        ),
      ),
    ),
  );
}

/** The rollout in progress: its status, ref and how far its waves are. @param {any} app */
function rolloutCell(app) {
  const r = app.rollout;
  const held = app.held.length ? h("span", { class: "muted small" }, `${app.held.length} held`) : null;
  if (!r) return [h("span", { class: "muted" }, "none"), held];
  const wave = r.waves.findIndex((/** @type {any} */ w) => w.status === "pending" || w.status === "running");
  const at = wave === -1 ? r.waves.length : wave + 1;
  return [
    h("a", { href: `#/rollouts/${r.id}` }, `${shortRef(r.ref)} @ ${shortSha(r.sha)}`),
    h("span", null, badge(r.status), ` wave ${at} of ${r.waves.length}`),
    held,
  ];
}

/**
 * Who locked the app, when and why, and the button to lock or unlock it.
 * @param {any} app
 * @param {{ lock: (app: any) => void, unlock: (app: any) => void }} act
 */
function lockCell(app, act) {
  if (!app.lock) return h("button", { type: "button", class: "small", "aria-label": `Lock ${app.name}`, onclick: () => act.lock(app) }, "Lock…");
  const { reason, locked_by, locked_at } = app.lock;
  return [
    h("span", { class: "locked" }, `Locked by ${locked_by}, `, time(locked_at)),
    h("q", { class: "reason" }, reason),
    h("button", { type: "button", class: "small", "aria-label": `Unlock ${app.name}`, onclick: () => act.unlock(app) }, "Unlock…"),
  ];
}

/**
 * What runs on `host` for `app`: its short sha (linked to the job that put it there) and for how long,
 * and where the rollout in progress stands on it.
 * @param {any} app
 * @param {string} host
 */
function releaseCell(app, host) {
  const attrs = { "data-label": host, "data-host": host };
  if (!app.hosts.includes(host)) return h("td", { ...attrs, class: "absent" }, h("span", { class: "muted" }, "—"));
  const release = app.releases.find((/** @type {any} */ r) => r.host === host)?.release ?? null;
  const current = release
    ? [
        release.job_id ? h("a", { class: "mono", href: `#/jobs/${release.job_id}`, title: `job ${shortJobId(release.job_id)}` }, shortSha(release.sha)) : h("span", { class: "mono" }, shortSha(release.sha)),
        h("span", { class: "muted small", title: new Date(release.since).toLocaleString("en-GB") }, `for ${duration(release.since, null)}`),
      ]
    : h("span", { class: "muted" }, "nothing yet");
  return h("td", attrs, current, pending(app.rollout, host));
}

/** The state of `host` in the rollout in progress, unless it is done there. @param {any} rollout @param {string} host */
function pending(rollout, host) {
  if (!rollout) return null;
  for (const wave of rollout.waves) {
    const i = wave.hosts.indexOf(host);
    if (i === -1) continue;
    const state = wave.states[i];
    return state === "succeeded" ? null : h("span", { class: "next" }, `→ ${shortSha(rollout.sha)} `, badge(state));
  }
  return null;
}
