import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, generateKey, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";
import { post, postNdjson, startRelay, TOKEN, type Line, type TestRelay } from "./helpers/relay.ts";
import { SshPool } from "../src/pool.ts";

let sshd: TestSshd;
let relay: TestRelay;
const scratch = mkdtempSync(join(tmpdir(), "ssh-relay-exec-"));

// At load time, so a missing sshd fails the file outright (not "cancelled" tests).
requireOpenSsh();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = await startRelay(sshd.clientKey.privateKey);
});
after(async () => {
  await relay?.close();
  await sshd?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const exec = (body: Record<string, unknown>, onLine?: (line: Line) => void) => postNdjson(`${relay.url}/v1/exec`, { target: sshd.target(), ...body }, onLine);
const text = (lines: Line[], type: "stdout" | "stderr") => lines.filter((l) => l.type === type).map((l) => l.data).join("");

async function poolInfo(): Promise<Array<{ name: string; connected: boolean; since: string; connects: number }>> {
  const res = await fetch(`${relay.url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await res.json()) as { pool: Array<{ name: string; connected: boolean; since: string; connects: number }> }).pool;
}

describe("auth and routes", () => {
  it("refuses a missing or wrong token with 401 and an error body", async () => {
    for (const token of [null, "wrong-token", `${TOKEN}x`]) {
      const res = await post(`${relay.url}/v1/exec`, { target: sshd.target(), command: "true" }, token);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: { code: "unauthorized", message: "missing or wrong bearer token" } });
    }
  });

  it("shows /health to anyone, the pool only with the token", async () => {
    const open = await fetch(`${relay.url}/health`);
    assert.equal(open.status, 200);
    assert.deepEqual(await open.json(), { status: "ok" });
    assert.ok(Array.isArray(await poolInfo()));
  });

  it("answers 400 for bad JSON or fields, 404 for unknown routes, 405 for wrong methods", async () => {
    const bad = await fetch(`${relay.url}/v1/exec`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "{nope" });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "invalid_json");
    const missing = await post(`${relay.url}/v1/exec`, { target: sshd.target() });
    assert.equal(missing.status, 400);
    assert.match(((await missing.json()) as { error: { message: string } }).error.message, /command/);
    assert.equal((await post(`${relay.url}/v1/nothing`, {})).status, 404);
    assert.equal((await fetch(`${relay.url}/v1/exec`)).status, 405);
  });

  it("checks the token before it reads a cancel path: a bad % escape is 401 without it, 400 with it", async () => {
    const path = `${relay.url}/v1/deploy/job%E0%A4%A/cancel`;
    const stranger = await post(path, {}, null);
    assert.equal(stranger.status, 401);
    assert.equal(((await stranger.json()) as { error: { code: string } }).error.code, "unauthorized");
    const caller = await post(path, {});
    assert.equal(caller.status, 400);
    assert.deepEqual(await caller.json(), { error: { code: "invalid_request", message: "the job id in the path has a malformed % escape" } });
  });
});

describe("POST /v1/exec against a real sshd", () => {
  it("streams stdout and stderr as NDJSON and ends with the exit code", async () => {
    const { status, contentType, lines } = await exec({ command: "echo out; echo err >&2; exit 7" });
    assert.equal(status, 200);
    assert.match(contentType ?? "", /^application\/x-ndjson/);
    assert.equal(text(lines, "stdout"), "out\n");
    assert.equal(text(lines, "stderr"), "err\n");
    const last = lines.at(-1)!;
    assert.equal(last.type, "exit");
    assert.equal(last.exit_code, 7);
    assert.equal(last.truncated, false);
    assert.equal(typeof last.duration_ms, "number");
  });

  it("flushes output as it arrives, not at the end", async () => {
    const start = Date.now();
    const seen: Record<string, number> = {};
    await exec({ command: "echo first; sleep 1; echo second" }, (line) => {
      if (line.type === "stdout") seen[String(line.data).trim()] ??= Date.now() - start;
      if (line.type === "exit") seen.exit = Date.now() - start;
    });
    assert.ok(seen.first !== undefined && seen.exit !== undefined);
    assert.ok(seen.exit - seen.first >= 800, `first line came ${seen.exit - seen.first} ms before the end`);
  });

  it("kills a command at timeout_s (its children too) and says timeout", async () => {
    const marker = join(scratch, "timeout-survived");
    const start = Date.now();
    const { lines } = await exec({ command: `echo started; sleep 2; touch ${marker}`, timeout_s: 0.5 });
    assert.ok(Date.now() - start < 2000, "the answer waited for the command");
    assert.equal(text(lines, "stdout"), "started\n");
    const last = lines.at(-1)!;
    assert.equal(last.type, "error");
    assert.equal(last.code, "timeout");
    assert.match(String(last.message), /killed after 0\.5 s/);
    await sleep(2500);
    assert.equal(existsSync(marker), false, "the killed command went on running");
  });

  it("drops output past max_output_bytes and marks it truncated", async () => {
    const { lines } = await exec({ command: "head -c 200000 /dev/zero | tr '\\0' a; echo tail >&2", max_output_bytes: 1000 });
    assert.equal(text(lines, "stdout") + text(lines, "stderr"), "a".repeat(1000));
    assert.deepEqual(lines.at(-1), { ...lines.at(-1), type: "exit", exit_code: 0, truncated: true });
  });

  it("gives the command an empty stdin, so a reader of stdin ends", async () => {
    const { lines } = await exec({ command: "cat; echo done", timeout_s: 10 });
    assert.equal(text(lines, "stdout"), "done\n");
    assert.equal(lines.at(-1)!.exit_code, 0);
  });

  it("reuses one connection for consecutive and concurrent commands", async () => {
    await exec({ command: "true" });
    const before = (await poolInfo()).find((e) => e.name === "test-host")!;
    const results = await Promise.all([exec({ command: "echo a" }), exec({ command: "echo b" }), exec({ command: "true" })]);
    assert.deepEqual(results.map((r) => r.lines.at(-1)!.exit_code), [0, 0, 0], JSON.stringify(results.map((r) => r.lines)));
    const now = (await poolInfo()).find((e) => e.name === "test-host")!;
    assert.equal(now.connects, before.connects);
    assert.equal(now.since, before.since);
    assert.equal(now.connected, true);
  });

  it("reconnects after sshd restarts (its sessions killed)", async () => {
    await exec({ command: "true" });
    const before = (await poolInfo()).find((e) => e.name === "test-host")!;
    await sshd.restart();
    const { lines } = await exec({ command: "echo back" });
    assert.equal(text(lines, "stdout"), "back\n");
    assert.equal(lines.at(-1)!.exit_code, 0);
    const now = (await poolInfo()).find((e) => e.name === "test-host")!;
    assert.equal(now.connects, before.connects + 1);
    assert.notEqual(now.since, before.since);
  });

  it("reconnects when the dead connection is used before its close is noticed", async () => {
    const target = sshd.target();
    const client = await relay.pool.connection(target);
    const connects = (await poolInfo()).find((e) => e.name === "test-host")!.connects;
    // Hang up under the pool: its 'close' handler has not run when exec picks the connection.
    client.end();
    let out = "";
    const result = await relay.pool.exec(target, "echo again", { timeoutMs: 10_000, maxOutputBytes: 1000, onStdout: (d) => (out += d) });
    assert.equal(result.exitCode, 0);
    assert.equal(out, "again\n");
    assert.equal((await poolInfo()).find((e) => e.name === "test-host")!.connects, connects + 1);
  });
});

describe("keep-alive", () => {
  it("drops a connection whose peer stops answering keep-alives, then reconnects", async () => {
    const pool = new SshPool({ privateKey: sshd.clientKey.privateKey, keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
    const target = sshd.target({ name: "keepalive-host" });
    try {
      assert.equal((await pool.exec(target, "true", { timeoutMs: 5000, maxOutputBytes: 100 })).exitCode, 0);
      assert.equal(pool.info()[0]?.connected, true);
      assert.ok(sshd.signalSessions("SIGSTOP") > 0, "no session process to pause");
      const deadline = Date.now() + 5000;
      while (pool.info().length > 0 && Date.now() < deadline) await sleep(100);
      assert.deepEqual(pool.info(), [], "the silent connection was kept");
      sshd.signalSessions("SIGCONT");
      assert.equal((await pool.exec(target, "true", { timeoutMs: 5000, maxOutputBytes: 100 })).exitCode, 0);
      assert.equal(pool.info()[0]?.connects, 2);
    } finally {
      sshd.signalSessions("SIGCONT");
      pool.close();
    }
  });
});

describe("refusals", () => {
  it("refuses a host key other than the pinned one, naming both fingerprints", async () => {
    const other = generateKey(scratch, "other-host-key");
    const { lines } = await exec({ target: sshd.target({ name: "pinned-elsewhere", host_key: other.publicKey }), command: "touch /tmp/should-not-run" });
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!.type, "error");
    assert.equal(line!.code, "host_key_mismatch");
    assert.match(String(line!.message), /expected ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}, offered ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}/);
    assert.ok(!(await poolInfo()).some((e) => e.name === "pinned-elsewhere" && e.connected));
  });

  it("says auth_failed when the target does not accept the relay's key", async () => {
    const stranger = generateKey(scratch, "stranger");
    const other = await startRelay(stranger.privateKey);
    try {
      const { lines } = await postNdjson(`${other.url}/v1/exec`, { target: sshd.target(), command: "true" });
      assert.equal(lines.at(-1)!.code, "auth_failed");
      assert.ok(!JSON.stringify(lines).includes("PRIVATE KEY"), "the key leaked into an answer");
    } finally {
      await other.close();
    }
  });

  it("says connect_failed when nothing listens", async () => {
    const port = await freePort();
    const { lines } = await exec({ target: sshd.target({ name: "nobody", port }), command: "true" });
    assert.equal(lines.at(-1)!.code, "connect_failed");
  });
});
