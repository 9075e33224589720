// Cutover figures for BENCHMARKS.md, both modes side by side in one run: requests failed and the longest gap
// between successes during 10 replacing deploys of an app that takes 2 s to start (hello:slow), behind the proxy
// (cutover) against the same app on `ports:` (stop-then-start); the latency Caddy adds per request against hitting
// the container directly; and push → traffic switched against push → healthy.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { requireCaddy, startCaddy } from "../ssh-relay/test/helpers/caddy.ts";
import { startLoad, type LoadReport } from "../ssh-relay/test/helpers/load.ts";
import { publishAgent, requireServices, startAgent, waitFor } from "../test/e2e/agent/services.ts";
import { api, E2E_SECRETS, freePort, sendPush, waitForJobEnd } from "../test/e2e/controller.ts";
import { startSshStack, type SshStack } from "../test/e2e/ssh-stack.ts";
import { summary } from "./lib.ts";
import { bridgeAddress, measureProxyLatency, type LatencyReport, type PathFigures } from "./proxy-latency.ts";

const DEPLOYS = Number(process.env.BENCH_CUTOVER_DEPLOYS ?? 10);
/** A narrower run: BENCH_CUTOVER_APPS=ssh-proxy,agent-proxy deploys only those (the latency needs agent-proxy). */
const ONLY_APPS = process.env.BENCH_CUTOVER_APPS?.split(",");
const LATENCY_REQUESTS = 2000;
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

interface App {
  name: string;
  mode: "agent" | "ssh";
  kind: "proxy" | "ports";
  host: string;
  port: number;
  container: string;
}

function yaml(apps: App[], admin: string, base: string, agentHost: string): string {
  const block = (a: App) => `  ${a.name}:
    repo: bench/${a.name}
    tags: ["*"]
    hosts: [${a.host}]
    deploy:
      image: "127.0.0.1:5000/deploybot/hello:{branch}"
      container: ${a.container}
${a.kind === "proxy"
    ? `      proxy: { listen: "127.0.0.1:${a.port}", app_port: 80, drain: 5s, admin: "${admin}" }\n      health: { path: /up, timeout: 30s }`
    : `      ports: ["127.0.0.1:${a.port}:80"]\n      health: { url: "http://127.0.0.1:${a.port}/up", timeout: 30s }`}
`;
  return base.replace(/^apps:\n[\s\S]*$/m, `apps:\n${apps.map(block).join("")}`).replace("hosts:\n", `hosts:\n  ${agentHost}: { mode: agent }\n`);
}

/** The job's log lines (text and the runner's timestamp), read from its SSE stream after it ended. */
async function logLines(stack: SshStack, jobId: string): Promise<Array<{ ts: string; text: string }>> {
  const text = await (await api(stack.controller, `/v1/logs/stream?job_id=${jobId}`)).text();
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as { ts?: string; text?: string })
    .filter((d): d is { ts: string; text: string } => typeof d.text === "string" && typeof d.ts === "string");
}

export async function benchCutover(): Promise<string> {
  await requireServices();
  requireCaddy();
  const suffix = Math.random().toString(16).slice(2, 8);
  const agentHost = `bench-cut-${suffix}`;
  const [executable, stack, caddy] = await Promise.all([publishAgent(), startSshStack("bench-cutover"), startCaddy()]);
  const stateDir = mkdtempSync(join(tmpdir(), "deploybot-bench-cutover-"));
  const apps: App[] = [];
  const ports = new Set<number>();
  for (const [mode, host] of [["agent", agentHost], ["ssh", "ssh-e2e"]] as const) {
    for (const kind of ["proxy", "ports"] as const) {
      // A port freePort() found free may be found again until something listens on it: take four different ones.
      let port = await freePort();
      while (ports.has(port)) port = await freePort();
      ports.add(port);
      if (!ONLY_APPS || ONLY_APPS.includes(`${mode}-${kind}`)) apps.push({ name: `${mode}-${kind}`, mode, kind, host, port, container: `dbbench-${mode}-${kind}-${suffix}` });
    }
  }
  const agent = startAgent(executable, {
    DEPLOYBOT_URL: stack.controller.url,
    DEPLOYBOT_ENROLL_TOKEN: E2E_SECRETS.AGENT_ENROLL_TOKEN,
    DEPLOYBOT_HOSTNAME: agentHost,
    DEPLOYBOT_STATE_DIR: stateDir,
  });
  let n = 0;
  const deploy = async (app: App, tag = "slow") => {
    const started = Date.now();
    const res = await sendPush(stack.controller, { repo: `bench/${app.name}`, ref: `refs/tags/${tag}`, sha: (++n).toString(16).padStart(40, "0") });
    const jobId = ((await res.json()) as { jobs: Array<{ id: string }> }).jobs[0]!.id;
    const job = await waitForJobEnd(stack.controller, jobId, 180_000);
    if (job.status !== "succeeded") throw new Error(`${app.name}: deploy ${jobId} ${job.status}: ${job.error}`);
    const lines = await logLines(stack, jobId);
    // BENCH_CUTOVER_TRACE=1: each line's time after the push, to see where a deploy's time goes.
    if (process.env.BENCH_CUTOVER_TRACE) for (const l of lines) console.error(`${app.name} ${String(Date.parse(l.ts) - started).padStart(6)} ms  ${l.text}`);
    const mark = lines.find((l) => (app.kind === "proxy" ? l.text.startsWith("traffic switched to") : /^healthy: /.test(l.text)));
    if (!mark) throw new Error(`${app.name}: no ${app.kind === "proxy" ? "switch" : "healthy"} line in job ${jobId}`);
    return { toMark: Date.parse(mark.ts) - started, total: Date.now() - started };
  };

  const rows: Array<{ app: App; load: LoadReport; toMark: ReturnType<typeof summary>; total: ReturnType<typeof summary> }> = [];
  let latency: LatencyReport | null = null;
  try {
    const put = await api(stack.controller, "/v1/config", { method: "PUT", body: yaml(apps, caddy.admin, stack.config(), agentHost), headers: { "content-type": "application/yaml" } });
    if (put.status !== 200) throw new Error(`config: ${put.status} ${await put.text()}`);
    await waitFor(`agent ${agentHost} online`, async () => ((await (await api(stack.controller, `/v1/hosts/${agentHost}`)).json()) as { online: boolean }).online || undefined, 30_000);
    for (const app of apps) {
      await deploy(app); // the first release; not measured
      const load = startLoad(`http://127.0.0.1:${app.port}/`, { intervalMs: 10 });
      await load.successes(5);
      const marks: number[] = [];
      const totals: number[] = [];
      for (let i = 0; i < DEPLOYS; i++) {
        const { toMark, total } = await deploy(app);
        marks.push(toMark);
        totals.push(total);
      }
      await load.successes(5);
      rows.push({ app, load: await load.stop(), toMark: summary(marks), total: summary(totals) });
    }
    const proxied = apps.find((a) => a.mode === "agent" && a.kind === "proxy");
    if (proxied) {
      // hello:keepalive (caddy file-server in the container) keeps connections alive, as a real app does.
      await deploy(proxied, "keepalive");
      latency = await measureProxyLatency({
        requests: LATENCY_REQUESTS,
        paths: [
          { label: "through Caddy", url: `http://127.0.0.1:${proxied.port}/` },
          { label: "the loopback port Caddy dials (docker-proxy)", url: `http://${docker("port", proxied.container, "80/tcp")}/` },
          { label: "the container's bridge address (no docker-proxy)", url: `http://${bridgeAddress(proxied.container)}:80/` },
        ],
      });
    }
  } finally {
    agent.child.kill("SIGKILL");
    for (const app of apps) for (const name of docker("ps", "-a", "--filter", `name=^${app.container}`, "--format", "{{.Names}}").split("\n").filter(Boolean)) docker("rm", "-f", name);
    await stack.dispose();
    await caddy.close();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(dirname(executable), { recursive: true, force: true });
  }

  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  return [
    "## Cutover",
    "",
    `${DEPLOYS} replacing deploys of \`hello:slow\` (listens 2 s after it starts, stops at once on SIGTERM), each from a signed push to the controller, with a GET every 10 ms on a fresh connection against the app's public address; the same app behind the proxy (\`proxy:\`, a cutover through Debian's Caddy 2.6) and on \`ports:\` (stop-then-start), in both modes, in one run. Target: 0 failed with the proxy. "Push → switched" is push to the log line "traffic switched" (proxy); "push → healthy" is push to the "healthy" line (ports), today's measure; a line's time is the agent's or the relay's own clock when it wrote the line. "Push → job done" is until the controller reports the job ended.`,
    "",
    "| mode | app | requests answered | failed | longest gap between successes | push → switched / healthy (median, max) | push → job done (median) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(({ app, load, toMark, total }) =>
      `| ${app.mode} | ${app.kind === "proxy" ? "proxy (cutover)" : "ports (stop-then-start)"} | ${load.ok} | **${load.failed}** | ${load.longestGapMs} ms | ${s(toMark.p50)} (max ${s(toMark.max)}) | ${s(total.p50)} |`),
    "",
    ...latencyLines(latency),
    "",
    "With `net.ipv4.tcp_migrate_req=0` (the kernel's default) the same switch is not lossless: Caddy opens a new SO_REUSEPORT socket at every config load and the kernel resets the connections still queued on the old one; a side measurement of 80 config loads under four such loops lost 3–9 of about 1,000–1,400 requests, and none with the setting at 1. `scripts/services/caddy.sh` sets it, and the README's set-up step does.",
    "",
  ].join("\n");
}

function latencyLines(report: LatencyReport | null): string[] {
  if (!report) return [];
  const [caddy, published, bridge] = report.figures as [PathFigures, PathFigures, PathFigures];
  const f = (x: number) => `${x.toFixed(3)} ms`;
  const d = (a: number, b: number) => `${a - b >= 0 ? "+" : ""}${(a - b).toFixed(3)} ms`;
  return [
    "",
    `Latency Caddy adds per request (agent host, \`hello:keepalive\`: \`caddy file-server\` in the container, which keeps connections alive): ${caddy.n} sequential GETs of a static page on each path after a warm-up of 200, each path over one keep-alive connection of its own, the paths interleaved in batches of 100 (A/B/C, A/B/C, …) so that the machine's noise falls on all alike. Caddy dials the container's loopback published port, where Docker's userland proxy (docker-proxy) forwards to the container. 1-minute load ${report.loadBefore.toFixed(2)} before, ${report.loadAfter.toFixed(2)} after (2 cores shared with other developers${report.waitedS > 0 ? `; waited ${report.waitedS} s for it to fall below 1` : ""}).`,
    "",
    "| path | p50 | p99 | connections opened during the run (client / all to that port) |",
    "| --- | --- | --- | --- |",
    ...report.figures.map((p) => `| ${p.label} | ${f(p.p50)} | ${f(p.p99)} | ${p.clientConnections} / ${p.allConnections} |`),
    "",
    `Caddy adds **${d(caddy.p50, published.p50)} at p50** (target ≤ 1 ms), ${d(caddy.p99, published.p99)} at p99, against the loopback port it dials; docker-proxy adds ${d(published.p50, bridge.p50)} at p50 and ${d(published.p99, bridge.p99)} at p99 against the container's bridge address. "All to that port" counts Caddy's connections to its upstream too: 0 means every hop kept its connection alive.`,
  ];
}
