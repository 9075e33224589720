// @ts-check
/** The controller's API, same origin. The token lives in sessionStorage: it ends with the tab. */

const TOKEN_KEY = "deploybot.token";

export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  /** @param {string} token */
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An error answer of the API ({"error": {"code", "message"}}), or a failure to reach it (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {unknown} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Called when the controller refuses the token, so the app can ask for another. */
let onUnauthorized = () => {};
/** @param {() => void} handler */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * One API call. JSON in and out unless `raw` (then the Response is returned as is).
 * @param {string} path
 * @param {{ method?: string, body?: unknown, token?: string, signal?: AbortSignal, raw?: boolean }} [options]
 * @returns {Promise<any>}
 */
export async function request(path, { method = "GET", body, token = session.token ?? "", signal, raw = false } = {}) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: "no-store" });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, "unreachable", "The controller cannot be reached. Check your connection; this page retries on its own.");
  }
  if (res.ok) {
    if (raw) return res;
    return res.status === 204 ? null : res.json();
  }
  /** @type {any} */
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    // not JSON: fall back to the status line
  }
  const err = new ApiError(res.status, payload?.error?.code ?? "http_error", payload?.error?.message ?? `${res.status} ${res.statusText}`, payload?.error?.details);
  if (res.status === 401 && token === session.token) onUnauthorized();
  throw err;
}

/**
 * A query string from the set values of `params`.
 * @param {Record<string, string | number | null | undefined>} params
 */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : "";
}
