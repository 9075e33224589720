import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { routeId, upstreamOf } from "../src/caddy.ts";
import { summarize, type DeployResult } from "../src/deploy-contract.ts";
import { runDeploy } from "../src/deploy.ts";
import { SshPool } from "../src/pool.ts";
import { createPoolRunner, type Runner } from "../src/runner.ts";
import { requireCaddy, startCaddy, type TestCaddy } from "./helpers/caddy.ts";
import { startLoad } from "./helpers/load.ts";
import { docker, IMAGES, removeContainers, requireDocker } from "./helpers/relay.ts";
import { freePort, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";

// The cancel scenarios of test/fixtures/deploy-scenarios.json, each for real: a cutover over a real sshd to the real
// Docker engine behind a real Caddy, under a load loop, cancelled at the moment its scenario names. The moment is
// found from what the deploy does (a log line it writes, a command it runs), never from a timer, so each cancel
// lands at its step every time.

interface Scenario {
  name: string;
  end: { outcome: DeployResult["status"]; step: string; kept_serving?: boolean };
  summary: string | null;
}

const table = JSON.parse(readFileSync(new URL("../../test/fixtures/deploy-scenarios.json", import.meta.url), "utf8")) as { scenarios: Scenario[] };

/** When to cancel for each cutover scenario: the deploy's next checkpoint is then in the scenario's step. */
const MOMENTS: Record<string, { log?: RegExp; commandDone?: RegExp; commandStarts?: RegExp }> = {
  "cancel at pull": { commandStarts: /^docker pull / }, // the pull itself is killed
  "cancel at proxy": { commandDone: /^docker pull / },
  "cancel at start": { log: /^proxy: Caddy answers at / },
  "cancel at health": { log: /^new container started: / },
  "cancel at switch": { log: /^healthy after / },
  "cancel after the switch is ignored": { log: /^traffic switched to / },
};

let sshd: TestSshd;
let caddy: TestCaddy;
let pool: SshPool;
let listen: number;
const name = `sshcancel-t${process.pid}`;

requireDocker();
requireOpenSsh();
requireCaddy();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  caddy = await startCaddy();
  pool = new SshPool({ privateKey: sshd.clientKey.privateKey, readyTimeoutMs: 10_000 });
  listen = await freePort();
});
after(async () => {
  removeContainers(name);
  pool?.close();
  await sshd?.dispose();
  await caddy?.close();
});

const url = () => `http://127.0.0.1:${listen}/`;
const page = async () => (await (await fetch(url())).text()).trim();
const names = () => docker("ps", "-a", "--filter", `name=^${name}`, "--format", "{{.Names}}").stdout.split("\n").filter(Boolean).sort();

/** One cutover of IMAGE, cancelled at MOMENT (if any); returns its result and log. */
async function cutover(jobId: string, image: string, moment: (typeof MOMENTS)[string] | null = null): Promise<{ result: DeployResult; log: string }> {
  const controller = new AbortController();
  const base = createPoolRunner({ pool, target: sshd.target() });
  const run: Runner = async (argv, options) => {
    const line = argv.join(" ");
    if (moment?.commandStarts?.test(line)) controller.abort();
    const result = await base(argv, options);
    if (moment?.commandDone?.test(line)) controller.abort();
    return result;
  };
  const lines: string[] = [];
  const result = await runDeploy({
    run,
    signal: controller.signal,
    pollIntervalMs: 100,
    stopGraceS: 1,
    log: (_stream, text) => {
      lines.push(text);
      if (moment?.log?.test(text)) controller.abort();
    },
    request: {
      target: sshd.target(),
      jobId,
      attempt: 1,
      app: "web",
      sha: `sha-${jobId}`,
      deploy: { image, container: name, ports: [], env: {}, health: { url: "", path: "/up", timeoutMs: 15_000 }, proxy: { listen: `127.0.0.1:${listen}`, host: null, appPort: 80, drainMs: 1000, admin: caddy.admin } },
    },
  });
  return { result, log: lines.join("\n") };
}

describe("every cancel of a cutover in deploy-scenarios.json, for real over SSH", () => {
  it("the first release", async () => {
    const { result, log } = await cutover("first", IMAGES.v1);
    assert.equal(result.status, "succeeded", log);
  });

  const scenarios = table.scenarios.filter((s) => s.name in MOMENTS);
  it("covers every cutover cancel of the table", () => {
    assert.deepEqual(scenarios.map((s) => s.name).sort(), Object.keys(MOMENTS).sort());
  });

  // The ignored cancel goes last: it is the only one that changes the live release.
  for (const scenario of [...scenarios].sort((a, b) => Number(a.end.outcome === "succeeded") - Number(b.end.outcome === "succeeded"))) {
    it(`${scenario.name}: ${scenario.summary ?? "the deploy succeeds"}; no request fails, one release serves`, async () => {
      const live = docker("port", name, "80/tcp").stdout;
      const load = startLoad(url());
      await load.successes(5);
      const jobId = scenario.name.replace(/[^a-z]+/g, "-");
      const { result, log } = await cutover(jobId, IMAGES.v2, MOMENTS[scenario.name]!);
      await load.successes(3);
      const report = await load.stop();

      assert.equal(summarize(result), scenario.summary, log);
      assert.equal(result.step, scenario.end.step, log);
      assert.equal(report.failed, 0, report.failures.join("; "));
      assert.deepEqual(names(), [name], log);
      const now = docker("port", name, "80/tcp").stdout;
      assert.equal(upstreamOf(await caddy.config(), routeId(name)), now);
      if (scenario.end.outcome === "succeeded") {
        assert.notEqual(now, live);
        assert.equal(await page(), "hello v2");
      } else {
        assert.equal(now, live, "the old release was never touched");
        assert.equal(await page(), "hello v1");
      }
    });
  }
});
