// @ts-check
/**
 * The DeployBot dashboard: plain ES modules, no build step. Pages are addressed by the URL's hash
 * (#/hosts, #/apps, #/rollouts/<id>, #/jobs?host=…, #/jobs/<id>, #/deploy, #/config), so every path the Worker serves stays
 * an API path. Each page is a function that draws into <main> and returns its own clean-up.
 */
import { session, whenUnauthorized } from "./lib/api.js";
import { appsPage } from "./views/apps.js";
import { configPage } from "./views/config.js";
import { deployPage } from "./views/deploy.js";
import { hostsPage } from "./views/hosts.js";
import { jobPage } from "./views/job.js";
import { jobsPage } from "./views/jobs.js";
import { rolloutPage } from "./views/rollout.js";
import { signInPage } from "./views/signin.js";

/**
 * @typedef {{ main: HTMLElement, segments: string[], params: URLSearchParams, navigate: (hash: string, notice?: string) => void }} PageContext
 * @typedef {(ctx: PageContext) => (void | (() => void)) | Promise<void | (() => void)>} Page
 */

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const signOut = /** @type {HTMLButtonElement} */ (document.getElementById("sign-out"));
const notice = /** @type {HTMLElement} */ (document.getElementById("notice"));

/** @type {(() => void) | void} */
let cleanup;
/** A message for the next page (set by navigate), and the hash it belongs to. */
let pendingNotice = { hash: "", text: "" };
let renderCount = 0;

/** @param {string} hash @param {string} [text] */
function navigate(hash, text = "") {
  pendingNotice = { hash, text };
  if (location.hash === hash) void render();
  else location.hash = hash;
}

/** @returns {{ page: Page, section: string, title: string }} */
function route(/** @type {string[]} */ segments) {
  const [first, second] = segments;
  if (!session.token) return { page: signInPage, section: "", title: "Sign in" };
  switch (first) {
    case "jobs":
      return second ? { page: jobPage, section: "jobs", title: "Job" } : { page: jobsPage, section: "jobs", title: "Jobs" };
    case "apps":
      return { page: appsPage, section: "apps", title: "Apps" };
    case "rollouts":
      return second ? { page: rolloutPage, section: "apps", title: "Rollout" } : { page: appsPage, section: "apps", title: "Apps" };
    case "deploy":
      return { page: deployPage, section: "deploy", title: "Deploy" };
    case "config":
      return { page: configPage, section: "config", title: "Config" };
    default:
      return { page: hostsPage, section: "hosts", title: "Hosts" };
  }
}

async function render() {
  const run = ++renderCount;
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;

  const raw = location.hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = raw.split("?", 2);
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(search);
  const { page, section, title } = route(segments);

  const signedIn = Boolean(session.token);
  nav.hidden = !signedIn;
  signOut.hidden = !signedIn;
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${title} · DeployBot`;
  notice.textContent = pendingNotice.hash === location.hash ? pendingNotice.text : "";
  notice.hidden = !notice.textContent;
  pendingNotice = { hash: "", text: "" };

  // Each page draws into its own element: a page still loading when the next one starts writes
  // into a detached element, never over its successor.
  const view = document.createElement("div");
  view.className = "view";
  main.replaceChildren(view);
  main.setAttribute("aria-busy", "true");
  const result = await page({ main: view, segments, params, navigate });
  if (run !== renderCount) {
    if (typeof result === "function") result(); // a newer page took over meanwhile
    return;
  }
  cleanup = result;
  main.removeAttribute("aria-busy");
  // Move focus to the new page for keyboard and screen reader users, as a full page load would.
  if (run > 1) (main.querySelector("h1") ?? main).focus({ preventScroll: false });
}

whenUnauthorized(() => {
  session.signOut();
  navigate(`#/signin?next=${encodeURIComponent(location.hash || "#/hosts")}`, "The controller refused the token. Sign in again.");
});
signOut.addEventListener("click", () => {
  session.signOut();
  navigate("#/signin", "Signed out.");
});
window.addEventListener("hashchange", () => void render());
void render();
