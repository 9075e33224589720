// @ts-check
import { request } from "../lib/api.js";
import { h, shortJobId } from "../lib/dom.js";
import { confirmAction, errorBox } from "../lib/ui.js";

/**
 * Deploys an app at a ref (and optionally an exact commit) to one of its hosts: POST /v1/jobs.
 * The fields can be filled from the URL (#/deploy?app=web&host=host-01&ref=main).
 * @type {import("../app.js").Page}
 */
export async function deployPage({ main, params, navigate }) {
  main.append(h("h1", { tabindex: "-1" }, "Deploy"));
  /** @type {Array<{ name: string, repo: string, branches: string[], tags: string[], hosts: string[] }>} */
  let apps;
  try {
    ({ apps } = await request("/v1/apps"));
  } catch (error) {
    main.append(errorBox(error));
    return;
  }
  if (apps.length === 0) {
    main.append(h("p", null, "apps.yaml has no apps yet. ", h("a", { href: "#/config" }, "See the config.")));
    return;
  }

  const appSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "deploy-app", name: "app", required: true }, apps.map((a) => h("option", { value: a.name }, `${a.name} (${a.repo})`))));
  const hostSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "deploy-host", name: "host", required: true }));
  const ref = /** @type {HTMLInputElement} */ (h("input", { id: "deploy-ref", name: "ref", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "ref-help" }));
  const sha = /** @type {HTMLInputElement} */ (
    h("input", { id: "deploy-sha", name: "sha", autocomplete: "off", spellcheck: "false", pattern: "[0-9a-f]{40}", inputmode: "latin", "aria-describedby": "sha-help", class: "mono" })
  );
  const refHelp = h("p", { id: "ref-help", class: "muted small" });
  const problem = h("div");

  const chosen = () => apps.find((a) => a.name === appSelect.value) ?? /** @type {typeof apps[number]} */ (apps[0]);
  const fillHosts = (/** @type {string | null} */ wanted) => {
    const app = chosen();
    hostSelect.replaceChildren(...app.hosts.map((name) => h("option", { value: name, selected: name === wanted }, name)));
    refHelp.textContent = `Branches: ${app.branches.join(", ") || "none"}. Tags: ${app.tags.join(", ") || "none"}. Short (main) or full (refs/heads/main).`;
    if (!ref.value || !params.get("ref")) ref.value = app.branches.find((b) => !b.includes("*")) ?? "";
  };
  if (params.get("app") && apps.some((a) => a.name === params.get("app"))) appSelect.value = /** @type {string} */ (params.get("app"));
  fillHosts(params.get("host"));
  if (params.get("ref")) ref.value = /** @type {string} */ (params.get("ref"));
  if (params.get("sha")) sha.value = /** @type {string} */ (params.get("sha"));
  appSelect.addEventListener("change", () => fillHosts(hostSelect.value));

  const form = h(
    "form",
    { class: "card", "aria-label": "Deploy" },
    h("div", { class: "field" }, h("label", { for: "deploy-app" }, "App"), appSelect),
    h("div", { class: "field" }, h("label", { for: "deploy-host" }, "Host"), hostSelect),
    h("div", { class: "field" }, h("label", { for: "deploy-ref" }, "Ref"), ref, refHelp),
    h(
      "div",
      { class: "field" },
      h("label", { for: "deploy-sha" }, "Commit (optional)"),
      sha,
      h("p", { id: "sha-help", class: "muted small" }, "A full 40-character sha. Empty: the newest commit pushed to the ref."),
    ),
    problem,
    h("button", { type: "submit", class: "primary" }, "Deploy…"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { app: appSelect.value, host: hostSelect.value, ref: ref.value.trim(), ...(sha.value.trim() ? { sha: sha.value.trim() } : {}) };
    const yes = await confirmAction({
      title: "Deploy?",
      body: [h("p", null, `${body.app} at ${body.ref}`, body.sha ? ` (${body.sha.slice(0, 12)})` : " (newest pushed commit)", ` to ${body.host}.`)],
      ok: "Deploy",
    });
    if (!yes) return;
    try {
      const res = await request("/v1/jobs", { method: "POST", body, raw: true });
      const job = await res.json();
      navigate(`#/jobs/${job.id}`, res.status === 201 ? `Deploy queued as job ${shortJobId(job.id)}.` : `That deploy is already ${job.status}: showing job ${shortJobId(job.id)}.`);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });
  main.append(form);
}
