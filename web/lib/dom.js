// @ts-check
/** Small DOM helpers. Text always goes in as text nodes, never as HTML: log lines and YAML are untrusted. */

/**
 * Creates an element. `attrs` keys starting with "on" add listeners; `class`, `for`, aria-* and data-*
 * are set as attributes; `false`/`null`/`undefined` values are skipped.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children  nodes, strings, or (nested) arrays of them; null, undefined and false are skipped
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in el) /** @type {HTMLInputElement} */ (el).value = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element | DocumentFragment} parent
 * @param {Array<any>} children
 */
function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...any} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "always", style: "short" });
const absolute = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });

/**
 * "12 sec. ago" style text for an ISO time.
 * @param {string} iso
 * @param {number} [now]
 */
export function ago(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

/**
 * A <time> element: relative text, the exact local time on hover and for assistive technology.
 * @param {string | null} iso
 * @param {string} [empty]
 */
export function time(iso, empty = "—") {
  if (!iso) return h("span", { class: "muted" }, empty);
  const exact = absolute.format(new Date(iso));
  return h("time", { datetime: iso, title: exact }, ago(iso));
}

/**
 * Elapsed time between two ISO times (or until now), as "1 m 05 s".
 * @param {string | null} from
 * @param {string | null} to
 */
export function duration(from, to) {
  if (!from) return "—";
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

/**
 * A status badge; the word is always shown, colour only repeats it.
 * @param {string} status
 */
export function badge(status) {
  return h("span", { class: `badge badge-${status}` }, status);
}

/** @param {string} sha */
export const shortSha = (sha) => sha.slice(0, 7);

/** "refs/heads/main" → "main", "refs/tags/v1" → "v1". @param {string} ref */
export const shortRef = (ref) => ref.replace(/^refs\/(heads|tags)\//, "");

/**
 * A job id as people read it: the first 8 characters of its UUID (ids are `<host>.<uuid>`; old ones plain UUIDs).
 * @param {string} id
 */
export function shortJobId(id) {
  return id.slice(id.lastIndexOf(".") + 1).slice(0, 8);
}
