import { z } from "zod";

/** GitHub's own limit for webhook payloads; anything larger is not from GitHub. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
export const MAX_REF_LENGTH = 255;
export const MAX_REPO_LENGTH = 140;
export const ZERO_SHA = "0000000000000000000000000000000000000000";

function hexToBytes(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Checks `X-Hub-Signature-256` (`sha256=<hex>`) over the raw body bytes.
 * `crypto.subtle.verify` recomputes the HMAC and compares in constant time.
 */
export async function verifySignature(secret: string, body: ArrayBuffer, header: string | undefined): Promise<boolean> {
  if (!secret || !header?.startsWith("sha256=")) return false;
  const signature = hexToBytes(header.slice("sha256=".length));
  if (!signature || signature.length !== 32) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify("HMAC", key, signature, body);
}

const COMMIT_ID = /^[0-9a-f]{40}$/;

/**
 * The part of a push payload DeployBot reads; GitHub sends much more. Lengths are bounded:
 * git refs are short in practice (GitHub refuses names past 255 bytes), repository full names are
 * at most 39 + 1 + 100 characters, and commit ids are 40 hex digits.
 */
export const PushPayload = z.object({
  ref: z.string().min(1).max(MAX_REF_LENGTH, `ref is longer than ${MAX_REF_LENGTH} characters`),
  before: z.string().regex(COMMIT_ID, "before must be a commit id").optional(),
  after: z.string().regex(COMMIT_ID, "after must be a 40-character commit id"),
  deleted: z.boolean().optional(),
  repository: z.object({ full_name: z.string().min(1).max(MAX_REPO_LENGTH, `repository.full_name is longer than ${MAX_REPO_LENGTH} characters`) }),
  pusher: z.object({ name: z.string().optional() }).optional(),
  head_commit: z
    .object({ id: z.string().max(64), message: z.string().optional(), timestamp: z.string().max(64).optional() })
    .nullable()
    .optional(),
});
export type PushPayload = z.infer<typeof PushPayload>;

/** A push that removes a branch or tag: nothing to deploy. */
export function isDeletion(push: PushPayload): boolean {
  return push.deleted === true || push.after === ZERO_SHA;
}

/**
 * When the pushed head commit was made, as ISO-8601 UTC (comparable as text), if the payload says.
 * Whoever pushes sets that date: it is clamped to `receivedAt`, so a commit dated in the future
 * cannot outrank the pushes that follow it.
 */
export function pushTime(push: PushPayload, receivedAt: string): string | null {
  const stamp = push.head_commit?.timestamp;
  if (!stamp) return null;
  const ms = Date.parse(stamp);
  if (Number.isNaN(ms)) return null;
  return new Date(Math.min(ms, Date.parse(receivedAt))).toISOString();
}
