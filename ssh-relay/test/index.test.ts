import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { postNdjson } from "./helpers/relay.ts";
import { requireOpenSsh, TestSshd } from "./helpers/sshd.ts";

const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));
let sshd: TestSshd;

// At load time, so a missing sshd fails the file outright (not "cancelled" tests).
requireOpenSsh();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
});
after(async () => sshd?.dispose());

interface Started {
  lines: Array<Record<string, unknown>>;
  raw: () => string;
  exit: Promise<number | null>;
  kill: () => void;
}

/** Runs `node src/index.ts` with ENV; collects its stdout and stderr. */
function run(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [entry], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const lines: Array<Record<string, unknown>> = [];
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    const parts = out.split("\n");
    for (const part of parts.slice(lines.length, -1)) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  return {
    lines,
    raw: () => out + err,
    exit: once(child, "exit").then(([code]) => code as number | null),
    kill: () => child.kill("SIGTERM"),
  };
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the relay process (src/index.ts)", () => {
  it("refuses to start without SSH_RELAY_TOKEN", async () => {
    const relay = run({ PORT: "0" });
    assert.equal(await relay.exit, 1);
    assert.match(String(relay.lines[0]?.msg), /SSH_RELAY_TOKEN is not set/);
  });

  it("refuses an unparseable SSH_PRIVATE_KEY without echoing it", async () => {
    const secret = "TOPSECRETKEYMATERIAL0123456789";
    const relay = run({ PORT: "0", SSH_RELAY_TOKEN: "t", SSH_PRIVATE_KEY: `-----BEGIN OPENSSH PRIVATE KEY-----\n${secret}\n-----END OPENSSH PRIVATE KEY-----\n` });
    assert.equal(await relay.exit, 1);
    assert.match(relay.raw(), /SSH_PRIVATE_KEY could not be parsed/);
    assert.ok(!relay.raw().includes(secret));
  });

  it("serves with settings from the environment, logs JSON lines, never the key or the command", async () => {
    // One-line form, as secret stores often keep it: "\n" sequences instead of newlines.
    const oneLineKey = sshd.clientKey.privateKey.trim().replaceAll("\n", "\\n");
    const relay = run({ PORT: "0", HOST: "127.0.0.1", SSH_RELAY_TOKEN: "process-token", SSH_PRIVATE_KEY: oneLineKey });
    try {
      const listening = await waitFor("the listening line", () => relay.lines.find((l) => l.msg === "ssh-relay listening"));
      assert.equal(listening.host, "127.0.0.1");
      const url = `http://127.0.0.1:${String(listening.port)}`;
      assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: "ok" });

      const command = "echo secret-command-text";
      const res = await fetch(`${url}/v1/exec`, {
        method: "POST",
        headers: { authorization: "Bearer process-token" },
        body: JSON.stringify({ target: sshd.target(), command }),
      });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /"type":"exit","exit_code":0/);
      // The test helper's token is not this process's token.
      const refused = await postNdjson(`${url}/v1/exec`, { target: sshd.target(), command: "true" });
      assert.equal(refused.status, 401);

      await waitFor("the exec log line", () => relay.lines.find((l) => l.msg === "exec done"));
      for (const line of relay.lines) {
        assert.equal(typeof line.ts, "string");
        assert.ok(["debug", "info", "warn", "error"].includes(String(line.level)));
      }
      const keyBody = sshd.clientKey.privateKey.split("\n")[1]!;
      assert.ok(!relay.raw().includes(keyBody), "the private key was logged");
      assert.ok(!relay.raw().includes("secret-command-text"), "the command was logged");
      assert.ok(!relay.raw().includes("process-token"), "the token was logged");
    } finally {
      relay.kill();
    }
    assert.equal(await relay.exit, 0);
  });
});
