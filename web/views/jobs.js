// @ts-check
import { query, request } from "../lib/api.js";
import { badge, duration, h, replace, shortJobId, shortRef, shortSha, time } from "../lib/dom.js";
import { errorBox, poll } from "../lib/ui.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE_SIZE = 25;
/** The newest page is read again this often, so statuses move on their own. */
const REFRESH_MS = 5000;

/**
 * Job history, newest first, filtered by host, app and status and paged with next_cursor. The
 * filters and the cursor live in the URL, so a view can be bookmarked and Back works.
 * @type {import("../app.js").Page}
 */
export async function jobsPage({ main, params, navigate }) {
  /** @type {Record<string, string>} */
  const filters = { host: params.get("host") ?? "", app: params.get("app") ?? "", status: params.get("status") ?? "" };
  const cursor = params.get("cursor");
  const limit = Number(params.get("limit")) || PAGE_SIZE;

  const [hosts, apps] = await Promise.all([
    request("/v1/hosts?limit=500").then((r) => r.hosts.map((/** @type {any} */ x) => x.name)).catch(() => []),
    request("/v1/apps").then((r) => r.apps.map((/** @type {any} */ x) => x.name)).catch(() => []),
  ]);

  /** @param {string} name @param {string} label @param {string[]} options */
  const select = (name, label, options) => {
    const current = filters[name] ?? "";
    // A value no longer in apps.yaml (an old host, a removed app) stays choosable while it is chosen.
    const values = current && !options.includes(current) ? [...options, current] : options;
    return h(
      "div",
      { class: "field" },
      h("label", { for: `filter-${name}` }, label),
      h("select", { id: `filter-${name}`, name }, h("option", { value: "" }, "any"), values.map((v) => h("option", { value: v, selected: v === current }, v))),
    );
  };
  const form = /** @type {HTMLFormElement} */ (h(
    "form",
    { class: "filters", "aria-label": "Filter jobs" },
    select("host", "Host", hosts),
    select("app", "App", apps),
    select("status", "Status", STATUSES),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter"), h("a", { href: "#/jobs", class: "button quiet" }, "Clear")),
  ));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate(`#/jobs${query({ host: String(data.get("host") ?? ""), app: String(data.get("app") ?? ""), status: String(data.get("status") ?? ""), limit: params.get("limit") })}`);
  });
  // Choosing a value filters at once; the button stays for keyboard and no-change submits.
  form.addEventListener("change", () => form.requestSubmit());

  const list = h("div", { class: "table-wrap" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const problem = h("div");
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Jobs"), h("a", { class: "button primary", href: "#/deploy" }, "Deploy")), form, problem, list, pager);

  const load = async (/** @type {AbortSignal} */ signal) => {
    try {
      const page = await request(`/v1/jobs${query({ ...filters, limit, cursor })}`, { signal });
      replace(problem);
      replace(list, jobsTable(page.jobs));
      const base = { ...filters, limit: params.get("limit") };
      replace(
        pager,
        cursor ? h("a", { href: `#/jobs${query(base)}`, class: "button quiet" }, "← Newest") : null,
        page.next_cursor ? h("a", { href: `#/jobs${query({ ...base, cursor: page.next_cursor })}`, class: "button quiet", rel: "next" }, "Older →") : null,
      );
    } catch (error) {
      if (!signal.aborted) replace(problem, errorBox(error));
    }
  };
  // Older pages do not change much; only the newest one is kept fresh.
  if (cursor) {
    const abort = new AbortController();
    await load(abort.signal);
    return () => abort.abort();
  }
  return poll(load, REFRESH_MS);
}

/** @param {any[]} jobs */
export function jobsTable(jobs) {
  if (jobs.length === 0) return h("p", null, "No jobs match.");
  return h(
    "table",
    { class: "stack", "aria-label": "Jobs" },
    h("thead", null, h("tr", null, ["Job", "App", "Ref", "Commit", "Host", "Status", "Trigger", "Created", "Took"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      jobs.map((job) =>
        h(
          "tr",
          { "data-job": job.id },
          h("th", { scope: "row", "data-label": "Job" }, h("a", { href: `#/jobs/${job.id}`, class: "mono", "aria-label": `Job ${job.id}` }, shortJobId(job.id))),
          h("td", { "data-label": "App" }, job.app),
          h("td", { "data-label": "Ref" }, shortRef(job.ref)),
          h("td", { "data-label": "Commit", class: "mono" }, shortSha(job.sha)),
          h("td", { "data-label": "Host" }, job.host),
          h("td", { "data-label": "Status" }, badge(job.status)),
          h("td", { "data-label": "Trigger" }, job.trigger),
          h("td", { "data-label": "Created" }, time(job.created_at)),
          h("td", { "data-label": "Took" }, job.started_at ? duration(job.started_at, job.finished_at) : h("span", { class: "muted" }, "—")),
        ),
      ),
    ),
  );
}
