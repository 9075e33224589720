// A notification receiver for the Worker tests (Node side, http://hooks.test through miniflare's
// outbound service). It checks X-DeployBot-Signature-256 with the test secret, and records what it
// accepted per path. A path under /fail<N>/ answers 500 to its first N requests.
//   GET /_receiver/seen?path=/x   [{delivery, event, payload, verified}] accepted, in order, and `attempts`
import { createHmac, timingSafeEqual } from "node:crypto";

export const RECEIVER_HOST = "hooks.test";
export const NOTIFY_TEST_SECRET = "test-notify-secret-0123456789";

interface Seen {
  delivery: string | null;
  event: string | null;
  verified: boolean;
  payload: unknown;
}

const seen = new Map<string, Seen[]>();
const attempts = new Map<string, number>();

function verified(body: string, header: string | null): boolean {
  if (!header?.startsWith("sha256=")) return false;
  const expected = Buffer.from(`sha256=${createHmac("sha256", NOTIFY_TEST_SECRET).update(body).digest("hex")}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function notifyReceiver(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/_receiver/seen") {
    const path = url.searchParams.get("path") ?? "";
    return Response.json({ seen: seen.get(path) ?? [], attempts: attempts.get(path) ?? 0 });
  }
  const body = await request.text();
  const tries = (attempts.get(url.pathname) ?? 0) + 1;
  attempts.set(url.pathname, tries);
  const failFirst = Number(/^\/fail(\d+)\//.exec(url.pathname)?.[1] ?? 0);
  if (tries <= failFirst) return new Response("receiver down", { status: 500 });
  const list = seen.get(url.pathname) ?? [];
  list.push({
    delivery: request.headers.get("x-deploybot-delivery"),
    event: request.headers.get("x-deploybot-event"),
    verified: verified(body, request.headers.get("x-deploybot-signature-256")),
    payload: JSON.parse(body),
  });
  seen.set(url.pathname, list);
  return new Response(null, { status: 204 });
}
