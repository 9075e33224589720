import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { shellQuote } from "../src/quote.ts";
import { createPoolRunner } from "../src/runner.ts";
import { docker, IMAGES, postNdjson, removeContainers, requireDocker, startRelay, type TestRelay } from "./helpers/relay.ts";
import { freePort, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";

/**
 * Values an attacker could put in a branch name, an image tag, a sha or an env
 * value must reach the program as one argument, byte for byte, and run nothing
 * — checked against the real sshd (and the real docker for deploys).
 */
let sshd: TestSshd;
let relay: TestRelay;
const scratch = mkdtempSync(join(tmpdir(), "ssh-relay-quoting-"));
const marker = join(scratch, "pwned");
const prefix = `sshrelay-q${process.pid}-`;

const attacks = [
  `x;touch ${marker}`,
  `$(touch ${marker})`,
  `\`touch ${marker}\``,
  `x' ; touch ${marker} ; echo '`,
  `x" ; touch ${marker} ; echo "`,
  `x\ntouch ${marker}`,
  `x && touch ${marker}`,
  `x | touch ${marker}`,
  `x > ${marker}`,
  `\${IFS}touch\${IFS}${marker}`,
];

// At load time, so a missing engine fails the file outright (not "cancelled" tests).
requireDocker();
requireOpenSsh();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = await startRelay(sshd.clientKey.privateKey, { deployOptions: { pollIntervalMs: 300, stopGraceS: 1 } });
});
after(async () => {
  removeContainers(prefix);
  await relay?.close();
  await sshd?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe("quoting against a real sshd", () => {
  it("every hostile value arrives as one argument, byte for byte, and nothing runs", async () => {
    const run = createPoolRunner({ pool: relay.pool, target: sshd.target() });
    const values = [...attacks, "", "it's", `quote " and ' and \\`, "a\r\nb\n", "$HOME", "*", "é☃"];
    // printf's format has no escapes of ours: '%s' and a NUL separator only.
    const result = await run(["printf", "%s\\0", ...values]);
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.stdout.split("\0").slice(0, -1), values);
    assert.equal(existsSync(marker), false);
  });

  it("a hostile image tag fails the pull and runs nothing", async () => {
    for (const [i, attack] of attacks.entries()) {
      const image = `127.0.0.1:5000/deploybot/hello:${attack}`;
      const { lines } = await postNdjson(`${relay.url}/v1/deploy`, {
        target: sshd.target(),
        job_id: `attack-${i}`,
        deploy: { image, container: `${prefix}img`, ports: [] },
      });
      const result = lines.at(-1)!;
      assert.equal(result.type, "result", JSON.stringify(lines));
      assert.equal(result.status, "failed");
      assert.equal(result.step, "pull");
      assert.equal(existsSync(marker), false, `${JSON.stringify(attack)} ran something`);
    }
    assert.equal(docker("ps", "-a", "--filter", `name=^${prefix}img`, "--format", "{{.Names}}").stdout, "");
  });

  it("env values with quotes and newlines, and a hostile sha, reach the container byte for byte", async () => {
    const port = await freePort();
    const name = `${prefix}env`;
    const env = {
      QUOTES: `single ' double " back \` dollar $HOME`,
      NEWLINES: "line one\nline two\r\n\nend",
      SUBST: `$(touch ${marker}) \`touch ${marker}\``,
      EQUALS: "a=b=c",
      EMPTY: "",
      SEMI: `x;touch ${marker}`,
    };
    const sha = `$(touch ${marker});\`touch ${marker}\`'"`;
    const { lines } = await postNdjson(`${relay.url}/v1/deploy`, {
      target: sshd.target(),
      job_id: "env-1",
      app: `app'$(touch ${marker})`,
      sha,
      deploy: { image: IMAGES.v1, container: name, ports: [`127.0.0.1:${port}:80`], env, health: { url: `http://127.0.0.1:${port}/up`, timeout: 15 } },
    });
    assert.equal(lines.at(-1)!.status, "succeeded", JSON.stringify(lines));

    // What PID 1 in the container actually got, NUL-separated, straight from the kernel.
    const environ = spawnSync("docker", ["exec", name, "cat", "/proc/1/environ"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(environ.status, 0, environ.stderr);
    const got = Object.fromEntries(
      environ.stdout.split("\0").filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    );
    for (const [key, value] of Object.entries(env)) assert.equal(got[key], value, key);

    const labels = JSON.parse(docker("inspect", "--format", "{{json .Config.Labels}}", name).stdout) as Record<string, string>;
    assert.equal(labels["deploybot.sha"], sha);
    assert.equal(labels["deploybot.app"], `app'$(touch ${marker})`);
    await sleep(200);
    assert.equal(existsSync(marker), false);
  });
});
