import { base64url } from "./crypto";

/**
 * Stream tickets: short-lived, stateless permissions to open one job's or one rollout's
 * live stream, for URLs (EventSource cannot send headers). A ticket is its scope and expiry,
 * HMAC-signed with a key derived from DEPLOYBOT_API_TOKENS, so no new secret is needed and
 * rotating the API tokens voids every ticket.
 */

export const TICKET_TTL_S = 60;

export interface TicketScope {
  kind: "job" | "rollout";
  id: string;
}

const encoder = new TextEncoder();
const DERIVATION_LABEL = "deploybot stream ticket v1";

function fromB64url(text: string): Uint8Array | null {
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The signing key: HMAC(API tokens, label), itself an HMAC key; never the API token itself. */
async function ticketKey(apiTokens: string): Promise<CryptoKey> {
  const root = await crypto.subtle.importKey("raw", encoder.encode(apiTokens), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", root, encoder.encode(DERIVATION_LABEL));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export async function issueTicket(apiTokens: string, scope: TicketScope, nowMs = Date.now()): Promise<{ ticket: string; expires_at: string }> {
  const exp = Math.floor(nowMs / 1000) + TICKET_TTL_S;
  const payload = encoder.encode(JSON.stringify({ k: scope.kind, id: scope.id, exp }));
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", await ticketKey(apiTokens), payload));
  return { ticket: `${base64url(payload)}.${base64url(sig)}`, expires_at: new Date(exp * 1000).toISOString() };
}

export type TicketCheck = { ok: true; scope: TicketScope } | { ok: false; reason: "invalid" | "expired" };

/** Verifies a ticket's signature (in constant time, by WebCrypto) and expiry. */
export async function checkTicket(apiTokens: string, ticket: string, nowMs = Date.now()): Promise<TicketCheck> {
  const [payloadText, sigText, extra] = ticket.split(".");
  const payload = payloadText ? fromB64url(payloadText) : null;
  const sig = sigText ? fromB64url(sigText) : null;
  if (!payload || !sig || extra !== undefined) return { ok: false, reason: "invalid" };
  if (!(await crypto.subtle.verify("HMAC", await ticketKey(apiTokens), sig, payload))) return { ok: false, reason: "invalid" };
  const claims = JSON.parse(new TextDecoder().decode(payload)) as { k: TicketScope["kind"]; id: string; exp: number };
  if (claims.exp * 1000 <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, scope: { kind: claims.k, id: claims.id } };
}
