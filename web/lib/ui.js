// @ts-check
import { h, replace } from "./dom.js";

/**
 * Asks before an action, in the page's modal <dialog> (focus is held inside it, Escape says no).
 * @param {{ title: string, body: Array<Node | string>, ok: string, danger?: boolean }} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, body, ok, danger = false }) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("confirm"));
  replace(/** @type {HTMLElement} */ (document.getElementById("confirm-title")), title);
  replace(/** @type {HTMLElement} */ (document.getElementById("confirm-body")), ...body);
  const button = /** @type {HTMLButtonElement} */ (document.getElementById("confirm-ok"));
  button.textContent = ok;
  button.className = danger ? "danger" : "primary";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * Runs `task` now and again `everyMs` after each run ends, while the tab is visible.
 * One run at a time: asked to run during a run, it runs once more right after.
 * @param {(signal: AbortSignal) => Promise<void>} task
 * @param {number} everyMs
 * @param {(runNow: () => void) => void} [expose] receives a function that runs the task now (after a change)
 * @returns {() => void} stops it
 */
export function poll(task, everyMs, expose) {
  const abort = new AbortController();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let running = false;
  let again = false;
  const tick = async () => {
    if (abort.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    do {
      again = false;
      if (document.visibilityState === "visible") await task(abort.signal).catch(() => undefined);
    } while (again && !abort.signal.aborted);
    running = false;
    if (!abort.signal.aborted) timer = setTimeout(tick, everyMs);
  };
  const wake = () => {
    if (document.visibilityState !== "visible" || abort.signal.aborted) return;
    void tick();
  };
  expose?.(wake);
  document.addEventListener("visibilitychange", wake);
  void tick();
  return () => {
    abort.abort();
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", wake);
  };
}

/**
 * A problem box for an API error (role=alert, so it is announced).
 * @param {unknown} error
 */
export function errorBox(error) {
  const message = error instanceof Error ? error.message : String(error);
  return h("p", { class: "error", role: "alert" }, message);
}

/**
 * A term/definition list from pairs, each pair in its own <div> (allowed in <dl>) so they can flow in columns.
 * @param {Array<[string, Node | string]>} pairs
 */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => h("div", { class: "fact", "data-term": term }, h("dt", null, term), h("dd", null, value))));
}
