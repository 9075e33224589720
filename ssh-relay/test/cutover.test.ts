import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { routeId, upstreamOf, withRoute } from "../src/caddy.ts";
import { requireCaddy, startCaddy, type TestCaddy } from "./helpers/caddy.ts";
import { startLoad } from "./helpers/load.ts";
import { docker, IMAGES, post, postNdjson, removeContainers, requireDocker, startRelay, type Line, type TestRelay } from "./helpers/relay.ts";
import { freePort, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";

let sshd: TestSshd;
let relay: TestRelay;
let caddy: TestCaddy;
let listen: number;
const prefix = `sshcut-t${process.pid}-`;
const name = `${prefix}web`;

requireDocker();
requireOpenSsh();
requireCaddy();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = await startRelay(sshd.clientKey.privateKey, { deployOptions: { pollIntervalMs: 100, settleMs: 1000, stopGraceS: 1 } });
  caddy = await startCaddy();
  listen = await freePort();
});
after(async () => {
  removeContainers(prefix);
  await relay?.close();
  await sshd?.dispose();
  await caddy?.close();
});

function body(jobId: string, image: string, { admin = caddy.admin, timeout = 10 } = {}) {
  return {
    target: sshd.target(),
    job_id: jobId,
    app: "web",
    sha: `sha-${jobId}`,
    deploy: {
      image,
      container: name,
      env: { APP_ENV: "test" },
      health: { path: "/up", timeout },
      proxy: { listen: `127.0.0.1:${listen}`, app_port: 80, drain: "1s", admin },
    },
  };
}

const deploy = (payload: unknown, onLine?: (line: Line) => void) => postNdjson(`${relay.url}/v1/deploy`, payload, onLine);
const url = () => `http://127.0.0.1:${listen}/`;
const page = async () => (await (await fetch(url())).text()).trim();
const names = () => docker("ps", "-a", "--filter", `name=^${prefix}`, "--format", "{{.Names}}").stdout.split("\n").filter(Boolean).sort();
const text = (lines: Line[]) => lines.filter((l) => l.type === "log").map((l) => String(l.text)).join("\n");

async function deployed(jobId: string, image: string): Promise<Line[]> {
  const { lines } = await deploy(body(jobId, image));
  assert.deepEqual(lines.at(-1), { type: "result", status: "succeeded", step: "remove-previous", error: null, rolled_back: false, summary: null }, text(lines));
  return lines;
}

describe("cutover over SSH behind a real Caddy", () => {
  it("replacing deploys under a load loop: no failed request, one container, the route on it", async () => {
    await deployed("cut1", IMAGES.v1);
    const load = startLoad(url());
    await load.successes(5);
    const lines = await deployed("cut2", IMAGES.v2);
    await deployed("cut3", IMAGES.slow);
    await deployed("cut4", IMAGES.v2);
    await load.successes(5);
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join("; "));
    assert.deepEqual(names(), [name]);
    assert.equal(await page(), "hello v2");
    const port = docker("port", name, "80/tcp").stdout;
    assert.equal(upstreamOf(await caddy.config(), routeId(name)), port);
    // Every line carries the relay's time of it, which the Worker keeps as the line's time.
    assert.ok(lines.filter((l) => l.type === "log").every((l) => typeof l.ts === "string" && Date.now() - Date.parse(l.ts) < 300_000), JSON.stringify(lines[0]));
    for (const told of [/^new container started: .*-next-cut2, port 80 on 127\.0\.0\.1:\d+/m, /^healthy after /m, /^traffic switched to /m, /^old release drained after /m, /^removed the old release /m]) {
      assert.match(text(lines), told);
    }
  });

  it("a release that fails health is removed; the old one never stopped serving", async () => {
    const load = startLoad(url());
    await load.successes(5);
    const { lines } = await deploy(body("cut5", IMAGES.broken, { timeout: 2 }));
    const report = await load.stop();
    const result = lines.at(-1)!;
    assert.deepEqual(result, { type: "result", status: "failed", step: "health", error: result.error, rolled_back: false, kept_serving: true, summary: result.summary });
    assert.match(String(result.error), /did not answer 2xx within 2 s/);
    assert.equal(result.summary, `failed at health: ${String(result.error)}; the previous release kept serving`);
    assert.equal(report.failed, 0, report.failures.join("; "));
    assert.deepEqual(names(), [name]);
    assert.equal(await page(), "hello v2");
  });

  it("a cancel during the health wait removes only the new container", async () => {
    const load = startLoad(url());
    await load.successes(5);
    let cancel: Promise<Response> | null = null;
    const { lines } = await deploy(body("cut6", IMAGES.slow), (line) => {
      if (line.type === "log" && /^waiting up to/.test(String(line.text)) && !cancel) cancel = post(`${relay.url}/v1/deploy/cut6/cancel`, {});
    });
    assert.equal((await cancel!)?.status, 200);
    const report = await load.stop();
    assert.deepEqual(lines.at(-1), { type: "result", status: "cancelled", step: "health", error: null, rolled_back: false, kept_serving: true, summary: "cancelled at health: the job was cancelled; the previous release kept serving" }, text(lines));
    assert.equal(report.failed, 0, report.failures.join("; "));
    assert.deepEqual(names(), [name]);
    assert.equal(await page(), "hello v2");
  });

  it("a missing proxy fails at the proxy step and starts nothing", async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const { lines } = await deploy(body("cut7", IMAGES.v1, { admin: nowhere }));
    const result = lines.at(-1)!;
    assert.equal(result.status, "failed");
    assert.equal(result.step, "proxy");
    assert.match(String(result.summary), new RegExp(`^failed at proxy: no proxy answers at ${nowhere.replace(/\./g, "\\.")} \\(Caddy's admin API\\)`));
    assert.deepEqual(names(), [name]);
  });

  it("after a relay died mid-drain, the next deploy repairs to one release first", async () => {
    // The state a relay killed after its switch leaves: the new release serves as -next-, the old one still runs.
    const next = `${name}-next-dead1`;
    docker("run", "-d", "--name", next, "-p", "127.0.0.1::80", "--label", "deploybot.app=web", IMAGES.v1);
    const at = docker("port", next, "80/tcp").stdout;
    const load = startLoad(url());
    await load.successes(3);
    const config = withRoute(await caddy.config(), { listen: `127.0.0.1:${listen}`, host: null, container: name, upstream: at });
    await fetch(`http://${caddy.admin}/load`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(config) });
    await load.successes(3);
    assert.equal(await page(), "hello v1");

    const lines = await deployed("cut8", IMAGES.v2);
    const report = await load.stop();
    assert.match(text(lines), /^repair: .*-next-dead1, which the proxy serves, is now /m);
    assert.equal(report.failed, 0, report.failures.join("; "));
    assert.deepEqual(names(), [name]);
    assert.equal(await page(), "hello v2");
  });

  it("after a relay died before its switch, the next deploy removes the unswitched container", async () => {
    const next = `${name}-next-dead2`;
    docker("run", "-d", "--name", next, "-p", "127.0.0.1::80", "--label", "deploybot.app=web", IMAGES.broken);
    const lines = await deployed("cut9", IMAGES.v1);
    assert.match(text(lines), /^repair: removed .*-next-dead2, left by an interrupted cutover that never switched to it/m);
    assert.deepEqual(names(), [name]);
    assert.equal(await page(), "hello v1");
  });
});
