import type { Env } from "../env";

/** An ssh host as the relay needs it (apps.yaml's `ssh` block plus the host's name). */
export interface SshTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  host_key: string;
}

/** Error codes the relay reports (docs/ssh-relay-api.md). */
export type RelayErrorCode = "host_key_mismatch" | "auth_failed" | "connect_failed" | "timeout" | "ssh_error" | "relay_unavailable";

export class RelayError extends Error {
  constructor(
    readonly code: RelayErrorCode | string,
    message: string,
  ) {
    super(message);
    this.name = "RelayError";
  }
}

export interface RelayClient {
  fetch(path: string, body: unknown, signal?: AbortSignal): Promise<Response>;
}

/**
 * How the Worker reaches the ssh-relay: the Container binding in production,
 * `SSH_RELAY_URL` locally and in tests. Every call carries `SSH_RELAY_TOKEN`.
 */
export function relayClient(env: Env): RelayClient {
  return {
    async fetch(path, body, signal) {
      const init: RequestInit = {
        method: "POST",
        headers: { authorization: `Bearer ${env.SSH_RELAY_TOKEN ?? ""}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      };
      try {
        if (env.SSH_RELAY) {
          const relay = env.SSH_RELAY.get(env.SSH_RELAY.idFromName("relay"));
          return await relay.fetch(new Request(`http://ssh-relay${path}`, init));
        }
        if (!env.SSH_RELAY_URL) throw new RelayError("relay_unavailable", "SSH_RELAY_URL is not set and there is no SSH_RELAY container binding");
        return await fetch(new URL(path, env.SSH_RELAY_URL), init);
      } catch (err) {
        if (err instanceof RelayError) throw err;
        if (signal?.aborted) throw err;
        throw new RelayError("relay_unavailable", `the ssh relay could not be reached (${(err as Error).message})`);
      }
    },
  };
}

/** The relay's error body, as a RelayError (never echoing anything but its code and message). */
export async function relayFailure(res: Response): Promise<RelayError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code) return new RelayError(body.error.code, body.error.message ?? body.error.code);
  } catch {
    // not JSON
  }
  return new RelayError("relay_unavailable", `the ssh relay answered ${res.status}`);
}

/** Calls `onObject` for each JSON line of an NDJSON stream, in order. */
export async function readNdjson(body: ReadableStream<Uint8Array>, onObject: (value: Record<string, unknown>) => void | Promise<void>): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += value;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) await onObject(JSON.parse(line) as Record<string, unknown>);
    }
    if (done) break;
  }
  if (buffer.trim()) await onObject(JSON.parse(buffer) as Record<string, unknown>);
}
