import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { docker, IMAGES, post, postNdjson, removeContainers, requireDocker, startRelay, type Line, type TestRelay } from "./helpers/relay.ts";
import { freePort, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";

let sshd: TestSshd;
let relay: TestRelay;
let hostPort: number;
const prefix = `sshrelay-t${process.pid}-`;
const name = `${prefix}web`;

// At load time, so a missing engine fails the file outright (not "cancelled" tests).
requireDocker();
requireOpenSsh();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = await startRelay(sshd.clientKey.privateKey, {
    // busybox httpd as PID 1 ignores SIGTERM: a 1 s grace instead of 10 s keeps the suite short.
    deployOptions: { pollIntervalMs: 300, settleMs: 1000, stopGraceS: 1 },
  });
  hostPort = await freePort();
});
after(async () => {
  removeContainers(prefix);
  await relay?.close();
  await sshd?.dispose();
});

function deployBody(jobId: string, image: string, health: { timeout: number } | null = { timeout: 10 }) {
  return {
    target: sshd.target(),
    job_id: jobId,
    attempt: 1,
    app: "web",
    sha: `sha-${jobId}`,
    deploy: {
      image,
      container: name,
      ports: [`127.0.0.1:${hostPort}:80`],
      env: { APP_ENV: "test" } as Record<string, string>,
      ...(health ? { health: { url: `http://127.0.0.1:${hostPort}/up`, timeout: health.timeout } } : {}),
    },
  };
}

const deploy = (body: unknown, onLine?: (line: Line) => void) => postNdjson(`${relay.url}/v1/deploy`, body, onLine);

async function page(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/`);
  return (await res.text()).trim();
}

/** Every container of this test file: name → deploybot.job label. */
function containers(): Record<string, string> {
  const out = docker("ps", "-a", "--filter", `name=^${prefix}`, "--format", '{{.Names}} {{.Label "deploybot.job"}}').stdout;
  return Object.fromEntries(out.split("\n").filter(Boolean).map((row) => row.split(" ") as [string, string]));
}

const logText = (lines: Line[]) => lines.filter((l) => l.type === "log").map((l) => `${l.stream}: ${l.text}`).join("\n");

describe("POST /v1/deploy against a real sshd and docker", () => {
  it("first deploy: pulls, runs with labels, waits for health, succeeds", async () => {
    const { status, lines } = await deploy(deployBody("job1", IMAGES.v1));
    assert.equal(status, 200);
    assert.deepEqual(lines.at(-1), { type: "result", status: "succeeded", step: "remove-previous", error: null, rolled_back: false, summary: null }, logText(lines));
    assert.ok(lines.slice(0, -1).every((l) => l.type === "log" && ["stdout", "stderr", "system"].includes(String(l.stream))));
    assert.match(logText(lines), /healthy: HTTP 200/);
    assert.equal(await page(), "hello v1");
    const labels = JSON.parse(docker("inspect", "--format", "{{json .Config.Labels}}", name).stdout) as Record<string, string>;
    assert.equal(labels["deploybot.app"], "web");
    assert.equal(labels["deploybot.sha"], "sha-job1");
    assert.equal(labels["deploybot.job"], "job1");
    assert.deepEqual(containers(), { [name]: "job1" });
  });

  it("second deploy replaces the container and removes the parked one", async () => {
    const { lines } = await deploy(deployBody("job2", IMAGES.v2));
    assert.equal(lines.at(-1)!.status, "succeeded", logText(lines));
    assert.match(logText(lines), new RegExp(`parking ${name} as ${name}-previous-job2`));
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "job2" });
  });

  it("a failing health check rolls back to the previous container", async () => {
    const { lines } = await deploy(deployBody("job3", IMAGES.broken, { timeout: 3 }));
    const result = lines.at(-1)!;
    assert.equal(result.type, "result");
    assert.equal(result.status, "failed", logText(lines));
    assert.equal(result.step, "health");
    assert.equal(result.rolled_back, true);
    assert.match(String(result.error), /did not answer 2xx within 3 s \(last: HTTP 404\)/);
    // Only the first of a run of identical answers is logged.
    assert.equal(lines.filter((l) => /not healthy yet: HTTP 404/.test(String(l.text))).length, 1);
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "job2" });
  });

  it("a cancel mid-deploy stops, rolls back, and ends with result cancelled", async () => {
    let cancel = null as Promise<Response> | null;
    let duplicate = null as Promise<Response> | null;
    const { lines } = await deploy(deployBody("job4", IMAGES.broken, { timeout: 60 }), (line) => {
      if (line.type === "log" && /waiting up to 60 s/.test(String(line.text)) && !cancel) {
        duplicate = post(`${relay.url}/v1/deploy`, deployBody("job4", IMAGES.v1));
        cancel = post(`${relay.url}/v1/deploy/job4/cancel`, {});
      }
    });
    assert.ok(cancel, logText(lines));
    const cancelled = await cancel!;
    assert.equal(cancelled.status, 200);
    assert.deepEqual(await cancelled.json(), { cancelled: true });
    const dup = await duplicate!;
    assert.equal(dup.status, 409);
    assert.equal(((await dup.json()) as { error: { code: string } }).error.code, "deploy_running");
    assert.deepEqual(lines.at(-1), { type: "result", status: "cancelled", step: "health", error: null, rolled_back: true, summary: "cancelled at health: the job was cancelled; previous container restored" }, logText(lines));
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "job2" });
  });

  it("cancel of a deploy that is not running is 404", async () => {
    const res = await post(`${relay.url}/v1/deploy/no-such-job/cancel`, {});
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
  });

  it("a pull failure changes nothing", async () => {
    const { lines } = await deploy(deployBody("job5", "127.0.0.1:5000/deploybot/hello:no-such-tag"));
    const result = lines.at(-1)!;
    assert.equal(result.status, "failed");
    assert.equal(result.step, "pull");
    assert.equal(result.rolled_back, false);
    assert.match(String(result.error), /pulling .* failed/);
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "job2" });
  });

  it("without a health URL, the container must still run after the settle time", async () => {
    const { lines } = await deploy(deployBody("job6", IMAGES.v1, null));
    assert.equal(lines.at(-1)!.status, "succeeded", logText(lines));
    assert.equal(await page(), "hello v1");
    assert.deepEqual(containers(), { [name]: "job6" });
  });

  it("a caller that hangs up mid-deploy gets its deploy rolled back", async () => {
    const controller = new AbortController();
    const res = await fetch(`${relay.url}/v1/deploy`, {
      method: "POST",
      headers: { authorization: "Bearer test-relay-token", "content-type": "application/json" },
      body: JSON.stringify(deployBody("job7", IMAGES.broken, { timeout: 60 })),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let seen = "";
    while (!/waiting up to 60 s/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    controller.abort();
    // The relay rolls back on its own time: wait until job6's container holds the name and answers again.
    const deadline = Date.now() + 30_000;
    let answer = "";
    while (Date.now() < deadline) {
      answer = await page().catch(() => "");
      if (answer === "hello v1" && JSON.stringify(containers()) === JSON.stringify({ [name]: "job6" })) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(containers(), { [name]: "job6" });
    assert.equal(answer, "hello v1");
  });

  it("an unreachable host ends the stream with a single error line", async () => {
    const body = deployBody("job8", IMAGES.v1);
    const { lines } = await deploy({ ...body, target: sshd.target({ name: "gone", port: await freePort() }) });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.type, "error");
    assert.equal(lines[0]!.code, "connect_failed");
  });

  it("keeps env values off every command line on the target (what ps shows)", async () => {
    const secret = `s3cret-${process.pid}-value`;
    const body = deployBody("job9", IMAGES.v2);
    body.deploy.env = { APP_ENV: "test", API_TOKEN: secret };
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const line of commandLines()) seen.add(line);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();

    const { lines } = await deploy(body);
    watching = false;
    await watcher;

    assert.equal(lines.at(-1)!.status, "succeeded", logText(lines));
    const runs = [...seen].filter((line) => line.startsWith("docker run ") && line.includes(`--name ${name}`));
    assert.ok(runs.length > 0, "the watcher never saw docker run, so it proves nothing");
    assert.ok(runs.every((line) => line.includes("-e API_TOKEN ")), runs.join("\n"));
    assert.deepEqual([...seen].filter((line) => line.includes(secret)), []);
    const env = JSON.parse(docker("inspect", "--format", "{{json .Config.Env}}", name).stdout) as string[];
    assert.ok(env.includes(`API_TOKEN=${secret}`), env.join(" "));
  });
});

/** The command line of every process on this machine, as ps shows them. */
function commandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      if (line) lines.push(line);
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

/**
 * What a relay killed mid-deploy of JOB leaves on the host: the live container
 * parked and stopped, and (when it got that far) the new one it started.
 */
function interrupted(jobId: string, { started }: { started: boolean }): void {
  const must = (...args: string[]) => assert.equal(docker(...args).status, 0, `docker ${args.join(" ")}`);
  must("rename", name, `${name}-previous-${jobId}`);
  must("stop", "--time", "1", `${name}-previous-${jobId}`);
  if (started) must("run", "-d", "--name", name, "--label", `deploybot.job=${jobId}`, "--label", "deploybot.app=web", IMAGES.broken);
}

describe("a deploy interrupted by a relay that died", () => {
  before(async () => {
    removeContainers(prefix);
    const { lines } = await deploy(deployBody("live1", IMAGES.v1));
    assert.equal(lines.at(-1)!.status, "succeeded", logText(lines));
  });

  it("is undone by the next deploy, which then goes ahead", async () => {
    interrupted("gone1", { started: true });

    const { lines } = await deploy(deployBody("next1", IMAGES.v2));

    assert.equal(lines.at(-1)!.status, "succeeded", logText(lines));
    assert.match(logText(lines), new RegExp(`the deploy of job gone1 was interrupted and left ${name}-previous-gone1`));
    assert.match(logText(lines), new RegExp(`restoring ${name}-previous-gone1 as ${name}`));
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "next1" });
  });

  it("and a failing deploy after the undo rolls back to the restored release, running", async () => {
    interrupted("gone2", { started: false });

    const { lines } = await deploy(deployBody("next2", IMAGES.broken, { timeout: 3 }));

    assert.deepEqual(
      [lines.at(-1)!.status, lines.at(-1)!.step, lines.at(-1)!.rolled_back],
      ["failed", "health", true],
      logText(lines),
    );
    assert.equal(await page(), "hello v2");
    assert.deepEqual(containers(), { [name]: "next1" });
  });

  it("leaves a name held by a container it did not start alone, and says so", async () => {
    interrupted("gone3", { started: false });
    assert.equal(docker("run", "-d", "--name", name, "--label", "deploybot.job=someone-else", IMAGES.v1).status, 0);

    const { lines } = await deploy(deployBody("next3", IMAGES.v2));

    assert.equal(lines.at(-1)!.status, "failed", logText(lines));
    assert.equal(lines.at(-1)!.step, "stop-previous");
    assert.match(String(lines.at(-1)!.error), /parked by job gone3, but .* is held by a container that job did not start/);
    assert.deepEqual(containers(), { [name]: "someone-else", [`${name}-previous-gone3`]: "next1" });
  });
});
