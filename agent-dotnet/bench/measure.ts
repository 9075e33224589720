/**
 * Measures the .NET agent on this machine (numbers for BENCHMARKS.md; nothing is asserted):
 *  1. idle: resident memory (VmRSS) and CPU of the published agent while it long-polls a real controller, over 60 s;
 *  2. deploy: time from the controller handing a job out (job.started_at) to the agent's "healthy" log line,
 *     for a first deploy of a local-registry image, against `docker pull` + `docker run` + polling the same
 *     health URL by hand; plus a replacing deploy (which includes stopping the previous container).
 *
 * Run from the repository root, with Docker, the registry and the .NET SDK up (scripts/services/docker.sh):
 *   node agent-dotnet/bench/measure.ts [--idle-seconds 60] [--runs 5] [--json out.json]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { api, E2E_SECRETS, freePort, sendPush, startController } from "../../test/e2e/controller.ts";
import { docker, publishAgent, readSse, REGISTRY, removeContainers, requireServices, startAgent } from "../../test/e2e/agent/services.ts";

const { values: args } = parseArgs({
  options: {
    "idle-seconds": { type: "string", default: "60" },
    runs: { type: "string", default: "5" },
    json: { type: "string" },
  },
});
const IDLE_SECONDS = Number(args["idle-seconds"]);
const RUNS = Number(args.runs);
const CLOCK_TICKS = 100; // getconf CLK_TCK on Linux

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { n: xs.length, min: sorted[0]!, median: sorted[Math.floor((sorted.length - 1) / 2)]!, mean, max: sorted.at(-1)! };
};
const fmt = (s: ReturnType<typeof stats>, unit: string, digits = 0) =>
  `median ${s.median.toFixed(digits)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)}, n=${s.n})`;

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]);
}
function cpuTicks(pid: number): number {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function waitHealthy(url: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return Date.now();
    } catch {
      // not up yet
    }
    await sleep(20);
  }
  throw new Error(`${url} not healthy within ${timeoutMs} ms`);
}

const suffix = randomBytes(4).toString("hex");
const HOST = `bench-agent-${suffix}`;
const CONTAINER = `dbbench-hello-${suffix}`;
const MANUAL = `dbbench-manual-${suffix}`;

async function main() {
  await requireServices();
  console.error("publishing the agent and starting the controller…");
  const [executable, controller] = await Promise.all([publishAgent(), startController()]);
  const stateDir = mkdtempSync(join(tmpdir(), "deploybot-bench-state-"));
  const port = await freePort();
  const manualPort = await freePort();
  let agent: ReturnType<typeof startAgent> | undefined;
  try {
    const yaml = [
      "version: 1",
      "hosts:",
      `  ${HOST}: { mode: agent }`,
      "apps:",
      "  hello:",
      "    repo: bench/hello",
      '    tags: ["v*"]',
      `    hosts: [${HOST}]`,
      "    deploy:",
      `      image: ${REGISTRY}/deploybot/hello:{branch}`,
      `      container: ${CONTAINER}`,
      `      ports: ["127.0.0.1:${port}:80"]`,
      `      health: { url: "http://127.0.0.1:${port}/up", timeout: 30s }`,
      "",
    ].join("\n");
    const put = await api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
    if (put.status !== 200) throw new Error(`PUT /v1/config: ${put.status} ${await put.text()}`);

    agent = startAgent(executable, {
      DEPLOYBOT_URL: controller.url,
      DEPLOYBOT_ENROLL_TOKEN: E2E_SECRETS.AGENT_ENROLL_TOKEN,
      DEPLOYBOT_HOSTNAME: HOST,
      DEPLOYBOT_STATE_DIR: stateDir,
    });
    const pid = agent.child.pid!;
    for (let i = 0; ; i++) {
      const host = (await (await api(controller, `/v1/hosts/${HOST}`)).json()) as { online: boolean };
      if (host.online) break;
      if (i > 100) throw new Error(`the agent did not come online:\n${agent.output()}`);
      await sleep(200);
    }

    // 1. Idle: let start-up settle, then sample.
    await sleep(5000);
    console.error(`idle: sampling the agent (pid ${pid}) for ${IDLE_SECONDS} s…`);
    const rss: number[] = [];
    const ticks0 = cpuTicks(pid);
    const t0 = Date.now();
    while (Date.now() - t0 < IDLE_SECONDS * 1000) {
      rss.push(rssKiB(pid) / 1024);
      await sleep(1000);
    }
    const cpuSeconds = (cpuTicks(pid) - ticks0) / CLOCK_TICKS;
    const wallSeconds = (Date.now() - t0) / 1000;
    const idle = { rss_mib: stats(rss), cpu_seconds: cpuSeconds, wall_seconds: wallSeconds, cpu_percent: (100 * cpuSeconds) / wallSeconds };

    // 2. Deploys. Each run: a first deploy (no container yet) through the agent, then the same by hand.
    const agentFirst: number[] = [];
    const agentPushToHealthy: number[] = [];
    const manual: number[] = [];
    const replace: number[] = [];
    const deploy = async (tag: string) => {
      const pushedAt = Date.now();
      const res = await sendPush(controller, { repo: "bench/hello", ref: `refs/tags/${tag}`, sha: randomBytes(20).toString("hex") });
      const { jobs } = (await res.json()) as { jobs: Array<{ id: string }> };
      const id = jobs[0]!.id;
      type Job = { status: string; started_at: string; error: string | null };
      let job: Job;
      for (const deadline = Date.now() + 120_000; ; await sleep(100)) {
        job = (await (await api(controller, `/v1/jobs/${id}`)).json()) as Job;
        if (!["queued", "running"].includes(job.status)) break;
        if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after 120 s`);
      }
      // The finished job's stream is its whole history, then `end`: short, so a restart of wrangler dev cannot cut it.
      const events = await readSse(await api(controller, `/v1/logs/stream?job_id=${id}`), (e) => e.event === "end", 30_000);
      if (job.status !== "succeeded") throw new Error(`job ${id} ${job.status}: ${job.error}\n${agent!.output()}`);
      const healthy = events.find((e) => e.event === "log" && (e.data as { text: string }).text.startsWith("healthy:"));
      if (!healthy) throw new Error(`job ${id}: no "healthy:" line`);
      const healthyAt = Date.parse((healthy.data as { ts: string }).ts);
      return { handOutToHealthy: healthyAt - Date.parse(job.started_at), pushToHealthy: healthyAt - pushedAt };
    };
    for (let run = 0; run < RUNS; run++) {
      const tag = run % 2 === 0 ? "v1" : "v2";
      await removeContainers(CONTAINER);
      const first = await deploy(tag);
      agentFirst.push(first.handOutToHealthy);
      agentPushToHealthy.push(first.pushToHealthy);

      await removeContainers(MANUAL);
      const start = Date.now();
      await docker("pull", "-q", `${REGISTRY}/deploybot/hello:${tag}`);
      await docker("run", "-d", "--name", MANUAL, "-p", `127.0.0.1:${manualPort}:80`, `${REGISTRY}/deploybot/hello:${tag}`);
      manual.push((await waitHealthy(`http://127.0.0.1:${manualPort}/up`, 30_000)) - start);
      await removeContainers(MANUAL);
      console.error(`run ${run + 1}/${RUNS}: agent ${first.handOutToHealthy} ms, by hand ${manual.at(-1)} ms`);
    }
    // A replacing deploy (v1 → v2 over a running container) includes stopping the previous release.
    for (let run = 0; run < Math.min(RUNS, 3); run++) {
      replace.push((await deploy(run % 2 === 0 ? "v2" : "v1")).handOutToHealthy);
    }

    const result = {
      measured_at: new Date().toISOString(),
      machine: { cores: (await import("node:os")).cpus().length },
      idle,
      deploy_ms: {
        agent_first_deploy_handout_to_healthy: stats(agentFirst),
        agent_first_deploy_push_to_healthy: stats(agentPushToHealthy),
        manual_pull_run_to_healthy: stats(manual),
        agent_replace_handout_to_healthy: stats(replace),
      },
    };
    console.log(
      [
        `idle agent RSS: ${fmt(idle.rss_mib, "MiB", 1)}`,
        `idle agent CPU: ${idle.cpu_seconds.toFixed(2)} s over ${idle.wall_seconds.toFixed(0)} s (${idle.cpu_percent.toFixed(2)} %)`,
        `first deploy, hand-out → healthy (agent): ${fmt(result.deploy_ms.agent_first_deploy_handout_to_healthy, "ms")}`,
        `first deploy, push → healthy (agent):     ${fmt(result.deploy_ms.agent_first_deploy_push_to_healthy, "ms")}`,
        `docker pull + run → healthy (by hand):    ${fmt(result.deploy_ms.manual_pull_run_to_healthy, "ms")}`,
        `replacing deploy, hand-out → healthy:     ${fmt(result.deploy_ms.agent_replace_handout_to_healthy, "ms")} (includes stopping the previous container)`,
      ].join("\n"),
    );
    if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2) + "\n");
  } finally {
    if (agent) {
      agent.child.kill("SIGTERM");
      await Promise.race([agent.exited, sleep(30_000)]);
    }
    await controller.dispose();
    await removeContainers(CONTAINER).catch(() => undefined);
    await removeContainers(MANUAL).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(dirname(executable), { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
