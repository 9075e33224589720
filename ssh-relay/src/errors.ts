/** Error codes of docs/ssh-relay-api.md, plus the relay's own request errors. */
export type RelayErrorCode =
  | "host_key_mismatch"
  | "auth_failed"
  | "connect_failed"
  | "timeout"
  | "ssh_error"
  | "cancelled"
  | "unauthorized"
  | "invalid_request"
  | "invalid_json"
  | "payload_too_large"
  | "not_found"
  | "method_not_allowed"
  | "deploy_running"
  | "internal_error";

/** HTTP status for an error answered before streaming starts. */
const STATUS: Record<RelayErrorCode, number> = {
  host_key_mismatch: 502,
  auth_failed: 502,
  connect_failed: 502,
  timeout: 504,
  ssh_error: 502,
  cancelled: 499,
  unauthorized: 401,
  invalid_request: 400,
  invalid_json: 400,
  payload_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  deploy_running: 409,
  internal_error: 500,
};

/**
 * The relay's one error type: a stable `code`, a message safe to show the
 * Worker (never a key, never a token) and the HTTP status it maps to.
 */
export class RelayError extends Error {
  readonly code: RelayErrorCode;
  readonly status: number;

  constructor(code: RelayErrorCode, message: string) {
    super(message);
    this.name = "RelayError";
    this.code = code;
    this.status = STATUS[code];
  }
}

/** `{"error": {"code", "message"}}` for any thrown value; unknown errors reveal nothing. */
export function toErrorBody(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  if (err instanceof RelayError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  }
  return { status: 500, body: { error: { code: "internal_error", message: "internal error" } } };
}

/** A failed SSH connection attempt as a relay error: a pinned-key mismatch first, then by ssh2's error level. */
export function classifyConnectError(err: Error & { level?: string }, mismatch: string | null, user: string, where: string, pinnedType: string): RelayError {
  if (mismatch) return new RelayError("host_key_mismatch", mismatch);
  const message = err.message;
  if (err.level === "client-authentication") {
    return new RelayError("auth_failed", `authentication as ${user} on ${where} failed (publickey refused)`);
  }
  if (err.level === "handshake" && /host key/i.test(message)) {
    return new RelayError("host_key_mismatch", `host key mismatch for ${where}: expected ${pinnedType}, the host offers no ${pinnedType} key (${message})`);
  }
  if (err.level === "client-timeout") {
    return new RelayError("connect_failed", `timed out connecting to ${where}`);
  }
  if (err.level === "client-socket" || /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET/.test(message)) {
    return new RelayError("connect_failed", `could not connect to ${where}: ${message}`);
  }
  return new RelayError("ssh_error", `ssh error with ${where}: ${message}`);
}
