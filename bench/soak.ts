// The soak: `npm start` of a checkout for a while under a steady, realistic load, with the resident memory of
// its whole process group (npm, node, workerd, the relay; wrangler and esbuild where they run) sampled each minute.
//
//   node bench/soak.ts run DIR PORT MINUTES OUT.json    runs `npm start` in DIR on PORT, writes the figures
//   node bench/soak.ts report LABEL=FILE.json ...       prints the BENCHMARKS.md section for one or more runs
//
// Load: AGENTS scripted agents long-polling (wait=50), spread over HOSTS hosts; a dashboard-like client reading
// GET /v1/hosts every 3 s; a push every 10 s deploying one app to every host. DIR needs its own .dev.vars (the
// run writes one from .dev.vars.example with the relay on PORT+1 when it has none) and its own npm ci.
import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { summary } from "./lib.ts";

const AGENTS = Number(process.env.SOAK_AGENTS ?? 100);
const HOSTS = Number(process.env.SOAK_HOSTS ?? 20);
const PUSH_EVERY_MS = 10_000;
const DASHBOARD_EVERY_MS = 3_000;
const SAMPLE_EVERY_MS = 60_000;
const WAIT_S = 50;

interface Sample {
  minute: number;
  total: number;
  by: Record<string, number>;
  /** CPU time the group's processes have used so far, in seconds (absent in runs recorded before it was sampled). */
  cpu?: number;
}
interface SoakResult {
  dir: string;
  minutes: number;
  idle: Sample;
  samples: Sample[];
  after: Sample;
  requests: number;
  failures: number;
  failureExamples: string[];
  jobsCreated: number;
  jobsHandedOut: number;
  handedOutTwice: number;
  jobsEnded: Record<string, number>;
  /** How long each dashboard read (GET /v1/hosts) took, in ms (absent in runs recorded before it was). */
  dashboardMs?: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => bytes / 2 ** 20;

/** KEY=VALUE lines of DIR/.dev.vars. */
function devVars(dir: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(join(dir, ".dev.vars"), "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith("#")) vars[m[1]!] = m[2]!;
  }
  return vars;
}

/** Resident memory of every process in the group, in bytes, by command name, and the group's CPU time. */
function memory(pgid: number, minute: number): Sample {
  const out = spawnSync("ps", ["-eo", "pgid=,rss=,times=,comm="], { encoding: "utf8" }).stdout;
  const by: Record<string, number> = {};
  let cpu = 0;
  for (const line of out.trim().split("\n")) {
    const [group, rss, seconds, comm] = line.trim().split(/\s+/, 4);
    if (Number(group) !== pgid || !comm) continue;
    by[comm] = (by[comm] ?? 0) + Number(rss) * 1024;
    cpu += Number(seconds);
  }
  return { minute, total: Object.values(by).reduce((a, b) => a + b, 0), by, cpu };
}

async function run(dir: string, port: number, minutes: number, outFile: string) {
  if (!existsSync(join(dir, ".dev.vars"))) {
    copyFileSync(join(dir, ".dev.vars.example"), join(dir, ".dev.vars"));
    const text = readFileSync(join(dir, ".dev.vars"), "utf8").replace(/^SSH_RELAY_URL=.*$/m, `SSH_RELAY_URL=http://127.0.0.1:${port + 1}`);
    writeFileSync(join(dir, ".dev.vars"), text);
  }
  const vars = devVars(dir);
  const adminToken = vars.DEPLOYBOT_API_TOKENS!.split(",")[0]!;
  const url = `http://127.0.0.1:${port}`;
  const child = spawn("npm", ["start"], { cwd: dir, env: { ...process.env, PORT: String(port) }, detached: true, stdio: ["ignore", "ignore", "inherit"] });
  const pgid = child.pid!;

  let requests = 0;
  let failures = 0;
  const failureExamples: string[] = [];
  const call = async (path: string, init: RequestInit & { token?: string } = {}, expected = [200]) => {
    requests++;
    try {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${init.token ?? adminToken}`);
      const res = await fetch(`${url}${path}`, { ...init, headers });
      const text = await res.text();
      if (!expected.includes(res.status)) throw new Error(`${res.status} ${text.slice(0, 200)}`);
      return text ? JSON.parse(text) : null;
    } catch (err) {
      failures++;
      if (failureExamples.length < 10) failureExamples.push(`${init.method ?? "GET"} ${path}: ${(err as Error).message}`);
      return null;
    }
  };

  try {
    const deadline = Date.now() + 300_000;
    while (!(await fetch(`${url}/health`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start in ${dir} did not serve on ${port}`);
      await sleep(1000);
    }
    const hosts = Array.from({ length: HOSTS }, (_, i) => `soak-${i}`);
    const config = `version: 1\ndefaults: { lease: 60s, retries: 1 }\nhosts:\n${hosts.map((h) => `  ${h}: { mode: agent }`).join("\n")}\napps:\n  web: { repo: soak/web, branches: [main], hosts: [${hosts.join(", ")}], deploy: { image: "r/web:{sha}", container: web } }\n`;
    if (!(await call("/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } }))) throw new Error(failureExamples.join("\n"));
    await sleep(20_000); // settle after start-up
    const idle = memory(pgid, 0);
    console.log(`${dir}: idle ${mib(idle.total).toFixed(0)} MiB`);

    const agents: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < AGENTS; i++) {
      const body = { hostname: hosts[i % HOSTS], version: "soak" };
      const reg = await call("/v1/agents/register", { method: "POST", token: vars.AGENT_ENROLL_TOKEN, body: JSON.stringify(body), headers: { "content-type": "application/json" } }, [201]);
      if (reg) agents.push({ id: reg.agent_id, token: reg.token });
    }
    const handedOut = new Map<string, number>();
    const created = new Set<string>();
    let running = true;
    const post = (agent: { token: string }, path: string, body: unknown) =>
      call(path, { method: "POST", token: agent.token, body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    const agentLoop = async (agent: { id: string; token: string }) => {
      while (running) {
        const beat = await post(agent, `/v1/agents/${agent.id}/heartbeat?wait=${WAIT_S}`, { running_job_id: null });
        const job = beat?.job;
        if (!beat) await sleep(1000);
        if (!job) continue;
        handedOut.set(job.id, (handedOut.get(job.id) ?? 0) + 1);
        await post(agent, `/v1/jobs/${job.id}/status`, { status: "running", attempt: job.attempt });
        await post(agent, `/v1/jobs/${job.id}/status`, { status: "succeeded", exit_code: 0, attempt: job.attempt });
      }
    };
    const loops = agents.map(agentLoop);
    const dashboardMs: number[] = [];
    const dashboard = (async () => {
      while (running) {
        const t0 = performance.now();
        await call("/v1/hosts");
        dashboardMs.push(performance.now() - t0);
        await sleep(DASHBOARD_EVERY_MS);
      }
    })();

    const samples: Sample[] = [];
    const started = Date.now();
    let pushes = 0;
    let nextSample = started + SAMPLE_EVERY_MS;
    while (Date.now() - started < minutes * 60_000) {
      const body = JSON.stringify({ ref: "refs/heads/main", after: randomBytes(20).toString("hex"), repository: { full_name: "soak/web" } });
      const signature = createHmac("sha256", vars.GITHUB_WEBHOOK_SECRET!).update(body).digest("hex");
      const res = await call("/v1/webhooks/github", {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": `sha256=${signature}` },
      }, [202]);
      pushes++;
      for (const job of res?.jobs ?? []) created.add(job.id);
      const wakeAt = Date.now() + PUSH_EVERY_MS;
      while (Date.now() < wakeAt) {
        if (Date.now() >= nextSample) {
          samples.push(memory(pgid, samples.length + 1));
          console.log(`${dir}: minute ${samples.length} ${mib(samples.at(-1)!.total).toFixed(0)} MiB, ${requests} requests, ${failures} failed`);
          nextSample += SAMPLE_EVERY_MS;
        }
        await sleep(Math.min(1000, Math.max(0, wakeAt - Date.now())));
      }
    }
    // Drain: the last pushes' jobs end, then the agents stop (each poll answers within WAIT_S).
    const drainDeadline = Date.now() + 120_000;
    const open = async () => ((await call("/v1/hosts"))?.hosts ?? []).reduce((n: number, h: any) => n + h.queued + (h.running_job_id ? 1 : 0), 0);
    while ((await open()) > 0 && Date.now() < drainDeadline) await sleep(1000);
    running = false;
    await Promise.all([...loops, dashboard]);
    await sleep(5000);
    const after = memory(pgid, minutes + 1);

    const jobsEnded: Record<string, number> = {};
    for (const id of created) {
      const job = await call(`/v1/jobs/${id}`);
      jobsEnded[job?.status ?? "unreadable"] = (jobsEnded[job?.status ?? "unreadable"] ?? 0) + 1;
    }
    const result: SoakResult = {
      dir, minutes, idle, samples, after, requests, failures, failureExamples,
      jobsCreated: created.size, jobsHandedOut: handedOut.size,
      handedOutTwice: [...handedOut.values()].filter((n) => n > 1).length, jobsEnded, dashboardMs,
    };
    writeFileSync(outFile, JSON.stringify(result, null, 2));
    console.log(`${dir}: done, ${outFile}`);
  } finally {
    try {
      process.kill(-pgid, "SIGTERM");
      await sleep(8000);
      process.kill(-pgid, "SIGKILL");
    } catch {
      // the group is gone
    }
  }
}

function report(runs: Array<[string, SoakResult]>): string {
  const rows = (f: (r: SoakResult) => string) => runs.map(([, r]) => f(r)).join(" | ");
  const first = (r: SoakResult) => r.samples[0]?.total ?? NaN;
  const last = (r: SoakResult) => r.samples.at(-1)?.total ?? NaN;
  const procs = (s: Sample) => Object.entries(s.by).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${mib(v).toFixed(0)}`).join(", ");
  return [
    `| figure (target) | ${runs.map(([label]) => label).join(" | ")} |`,
    `| --- | ${runs.map(() => "---").join(" | ")} |`,
    `| idle RSS of the process group after start-up (≤ 300 MiB) | ${rows((r) => `**${mib(r.idle.total).toFixed(0)} MiB** (${procs(r.idle)})`)} |`,
    `| RSS at minute 1 → minute ${runs[0]![1].samples.length} | ${rows((r) => `${mib(first(r)).toFixed(0)} → ${mib(last(r)).toFixed(0)} MiB`)} |`,
    `| growth over the run, minute 1 → last (≤ 50 MiB) | ${rows((r) => `**${(mib(last(r)) - mib(first(r))).toFixed(0)} MiB**`)} |`,
    `| growth from idle to the last sample | ${rows((r) => `${(mib(last(r)) - mib(r.idle.total)).toFixed(0)} MiB`)} |`,
    `| RSS once the load stopped | ${rows((r) => `${mib(r.after.total).toFixed(0)} MiB (${procs(r.after)})`)} |`,
    `| CPU time of the process group, minute 1 → last | ${rows((r) => (r.samples[0]?.cpu === undefined ? "not sampled" : `${(r.samples.at(-1)!.cpu! - r.samples[0].cpu).toFixed(0)} s`))} |`,
    `| dashboard read (GET /v1/hosts) p50 / p99 | ${rows((r) => (r.dashboardMs ? `${summary(r.dashboardMs).p50.toFixed(0)} / ${summary(r.dashboardMs).p99.toFixed(0)} ms` : "not sampled"))} |`,
    `| requests / failed (0) | ${rows((r) => `${r.requests} / **${r.failures}**`)} |`,
    `| jobs created / handed to an agent / handed out twice (0) | ${rows((r) => `${r.jobsCreated} / ${r.jobsHandedOut} / **${r.handedOutTwice}**`)} |`,
    `| jobs at the end, by status | ${rows((r) => Object.entries(r.jobsEnded).map(([k, v]) => `${k} ${v}`).join(", "))} |`,
    "",
    `RSS each minute (MiB): ${runs.map(([label, r]) => `${label}: ${r.samples.map((s) => mib(s.total).toFixed(0)).join(", ")}`).join("; ")}.`,
    ...runs.flatMap(([label, r]) => (r.failureExamples.length ? [``, `${label}, first failures: ${r.failureExamples.map((f) => `\`${f}\``).join("; ")}`] : [])),
  ].join("\n");
}

const [command, ...args] = process.argv.slice(2);
if (command === "run" && args.length === 4) await run(args[0]!, Number(args[1]), Number(args[2]), args[3]!);
else if (command === "report" && args.length > 0) {
  // LABEL=FILE: split at the last "=", so a label may hold one.
  console.log(report(args.map((a) => [a.slice(0, a.lastIndexOf("=")), JSON.parse(readFileSync(a.slice(a.lastIndexOf("=") + 1), "utf8"))])));
} else {
  console.error("usage: node bench/soak.ts run DIR PORT MINUTES OUT.json | report LABEL=FILE.json ...");
  process.exit(2);
}
