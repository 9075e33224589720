// A stand-in for the ssh-relay inside the Worker tests (Node side, plugged in as miniflare's
// outbound service for http://relay.test). It speaks docs/ssh-relay-api.md; what it does is
// chosen by the request, so tests can steer it:
//   deploy image tag ":fail"     → logs, then result failed at health with rollback
//   deploy image tag ":slow"     → a log line every 50 ms until cancelled (result cancelled)
//   deploy image tag ":drop"     → a log line, then the stream ends with no result
//   target address "10.9.9.9"    → error host_key_mismatch (deploy, exec and metrics)
//   exec command "break"         → the stream breaks after some output (the relay died)
//   reachability: address "10.9.9.9" unreachable (host_key_mismatch) since 2026-01-02, "10.7.7.7" never
//   tried (null), any other reachable; a target named "relay-breaks" makes the relay answer 500
//   anything else                → logs, then result succeeded
// The real relay is tested against a real sshd in ssh-relay/ and in the e2e suite.

const encoder = new TextEncoder();
const cancelled = new Set<string>();
export const FAKE_RELAY_TOKEN = "test-relay-token";
/** When the fake relay says it pulled: a fixed past time, so a test can tell it from the controller's clock. */
export const RELAY_TS = "2026-01-02T03:04:05.678Z";

function ndjson(produce: (send: (value: unknown) => void) => Promise<void>): Response {
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        await produce((value) => controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`)));
        controller.close();
      } catch (err) {
        controller.error(err); // the relay died mid-stream
      }
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
}

const mismatch = { type: "error", code: "host_key_mismatch", message: "host key mismatch: expected SHA256:aaa (ssh-ed25519), offered SHA256:bbb (ssh-ed25519)" };

export async function fakeRelay(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname !== "relay.test") return new Response("no network in tests", { status: 503 });
  if (request.headers.get("authorization") !== `Bearer ${FAKE_RELAY_TOKEN}`) {
    return Response.json({ error: { code: "unauthorized", message: "bad token" } }, { status: 401 });
  }
  const cancel = /^\/v1\/deploy\/([^/]+)\/cancel$/.exec(url.pathname);
  if (cancel) {
    cancelled.add(decodeURIComponent(cancel[1]!));
    return Response.json({ cancelled: true });
  }
  const body = (await request.json()) as any;
  const badKey = body.target?.address === "10.9.9.9";

  if (url.pathname === "/v1/deploy") {
    const tag = String(body.deploy.image).split(":").pop();
    return ndjson(async (send) => {
      if (badKey) return send(mismatch);
      // The relay stamps each line with its own clock (the first line here, as a real relay does); a line without a
      // stamp (the others) gets the controller's.
      send({ type: "log", stream: "system", text: `pulling ${body.deploy.image}`, ts: RELAY_TS });
      if (tag === "drop") return;
      if (tag === "slow") {
        for (let i = 0; i < 400 && !cancelled.has(body.job_id); i++) {
          send({ type: "log", stream: "stdout", text: `waiting ${i}` });
          await new Promise((r) => setTimeout(r, 50));
        }
        return send({ type: "result", status: "cancelled", step: "health", error: null, rolled_back: true, summary: "cancelled at health: the job was cancelled; previous container restored" });
      }
      send({ type: "log", stream: "stdout", text: `started ${body.deploy.container} for ${body.job_id}` });
      if (tag === "fail") {
        return send({ type: "result", status: "failed", step: "health", error: "/up answered 503 for 30s", rolled_back: true, summary: "failed at health: /up answered 503 for 30s; previous container restored" });
      }
      send({ type: "result", status: "succeeded", step: "remove-previous", error: null, rolled_back: false, summary: null });
    });
  }
  if (url.pathname === "/v1/exec") {
    return ndjson(async (send) => {
      if (badKey) return send(mismatch);
      if (body.command === "break") {
        send({ type: "stdout", data: "partial" });
        throw new Error("relay process killed");
      }
      const exit = /exit (\d+)/.exec(body.command)?.[1];
      send({ type: "stdout", data: `ran: ${body.command}\n` });
      if (exit) send({ type: "stderr", data: "failing on purpose\n" });
      send({ type: "exit", exit_code: exit ? Number(exit) : 0, duration_ms: 12, truncated: false });
    });
  }
  if (url.pathname === "/v1/reachability") {
    if (body.targets.some((t: any) => t.name === "relay-breaks")) return new Response("boom", { status: 500 });
    const hosts = body.targets.map((t: any) => {
      if (t.address === "10.9.9.9") {
        return { name: t.name, reachable: false, last_connected_at: "2026-01-01T00:00:00.000Z", unreachable_since: "2026-01-02T00:00:00.000Z", error: { code: mismatch.code, message: mismatch.message } };
      }
      if (t.address === "10.7.7.7") return { name: t.name, reachable: null, last_connected_at: null, unreachable_since: null, error: null };
      return { name: t.name, reachable: true, last_connected_at: "2026-01-03T00:00:00.000Z", unreachable_since: null, error: null };
    });
    return Response.json({ hosts });
  }
  if (url.pathname === "/v1/metrics") {
    if (badKey) return Response.json({ error: { code: mismatch.code, message: mismatch.message } }, { status: 502 });
    return Response.json({
      hostname: body.target.name,
      uptime_s: 1234.5,
      load: [0.1, 0.2, 0.3],
      memory: { total_bytes: 1000, available_bytes: 600, used_bytes: 400 },
      disk: [{ mount: "/", total_bytes: 100, used_bytes: 40, available_bytes: 60 }],
      containers: [{ id: "abc", name: "api", image: "registry.test/api:1", status: "Up 2 minutes", state: "running" }],
    });
  }
  return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
}
