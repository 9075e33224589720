// A fleet: many simulated agents long-polling one controller while jobs flow. Checks that every job
// is handed out at most once and ends (none lost or doubled), and reports the controller's memory.
import { api, sendPush, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";

const AGENTS = Number(process.env.BENCH_FLEET_AGENTS ?? 1000);
const SECONDS = Number(process.env.BENCH_FLEET_SECONDS ?? 300);
const HOSTS = Number(process.env.BENCH_FLEET_HOSTS ?? 50);
const PUSH_EVERY_MS = 1000;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export async function benchFleet(controller: Controller): Promise<string> {
  const hosts = Array.from({ length: HOSTS }, (_, i) => `fleet-${i}`);
  const apps = ["a", "b", "c", "d"];
  const config = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
${hosts.map((h) => `  ${h}: { mode: agent }`).join("\n")}
apps:
${apps.map((a) => `  ${a}: { repo: fleet/${a}, branches: [main], hosts: [${hosts.join(", ")}], deploy: { image: "r/${a}:{sha}", container: ${a} } }`).join("\n")}
`;
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status}`);

  const agents: ScriptedAgent[] = [];
  for (let i = 0; i < AGENTS; i++) agents.push(await ScriptedAgent.register(controller, hosts[i % HOSTS]!));
  const memoryStart = controller.memory();

  const handedOut = new Map<string, number>();
  const created = new Set<string>();
  let heartbeats = 0;
  let errors = 0;
  let running = true;

  const loop = async (agent: ScriptedAgent) => {
    while (running) {
      try {
        const beat = await agent.heartbeat(null, 50);
        heartbeats++;
        const job = beat.body?.job;
        if (!job) continue;
        handedOut.set(job.id, (handedOut.get(job.id) ?? 0) + 1);
        await agent.status(job.id, { status: "running", attempt: job.attempt });
        await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const loops = agents.map(loop);

  const started = Date.now();
  let pushes = 0;
  while (Date.now() - started < SECONDS * 1000) {
    const app = apps[pushes % apps.length]!;
    const res = await sendPush(controller, { repo: `fleet/${app}`, ref: "refs/heads/main", sha: (++pushes).toString(16).padStart(40, "0") });
    if (res.status === 202) for (const job of ((await res.json()) as { jobs: Array<{ id: string }> }).jobs) created.add(job.id);
    else errors++;
    await new Promise((r) => setTimeout(r, PUSH_EVERY_MS));
  }
  // Let the last jobs drain, then stop the agents (their polls end within 50 s; we do not wait for them).
  const drainDeadline = Date.now() + 30_000;
  const unfinished = async () => {
    const list = (await (await api(controller, "/v1/hosts")).json()) as { hosts: Array<{ queued: number; running_job_id: string | null }> };
    return list.hosts.reduce((n, h) => n + h.queued + (h.running_job_id ? 1 : 0), 0);
  };
  while ((await unfinished()) > 0 && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 500));
  running = false;
  const memoryEnd = controller.memory();
  await Promise.all(loops); // every held poll answers within its 50 s wait
  await new Promise((r) => setTimeout(r, 2000));
  const memoryIdle = controller.memory();

  // History: every created job ended, and none was handed out twice.
  const statuses = new Map<string, number>();
  for (const id of created) {
    const job = (await (await api(controller, `/v1/jobs/${id}`)).json()) as { status: string };
    statuses.set(job.status, (statuses.get(job.status) ?? 0) + 1);
  }
  const doubled = [...handedOut.values()].filter((n) => n > 1).length;
  const open = (statuses.get("queued") ?? 0) + (statuses.get("running") ?? 0);
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  return [
    "## A fleet",
    "",
    `${AGENTS} simulated agents on ${HOSTS} hosts long-polling one \`wrangler dev\` controller for ${SECONDS} s, a push every ${PUSH_EVERY_MS} ms fanning out to all ${HOSTS} hosts (4 apps in turn).`,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| jobs created by pushes | ${created.size} |`,
    `| jobs handed to an agent | ${handedOut.size} |`,
    `| handed out more than once | **${doubled}** |`,
    `| ended succeeded / cancelled (superseded while queued) / still open | ${statuses.get("succeeded") ?? 0} / ${statuses.get("cancelled") ?? 0} / **${open}** |`,
    `| heartbeats answered | ${heartbeats} |`,
    `| client-side errors | ${errors} |`,
    `| controller memory (wrangler + workerd RSS): start → end of load → all polls answered | ${mib(total(memoryStart))} → ${mib(total(memoryEnd))} → ${mib(total(memoryIdle))} (workerd ${mib(memoryStart.workerd ?? 0)} → ${mib(memoryEnd.workerd ?? 0)} → ${mib(memoryIdle.workerd ?? 0)}) |`,
    "",
    "Where the memory goes: under \`wrangler dev\` every \`console.log\` is kept by the local inspector. A bare Worker answering 2,000 requests without logging sat at 162 MiB of workerd; 2,000 more requests that each log one line took it to 497 MiB (about 170 KB a line), and it is not given back. The controller writes one structured log line per request, so local memory grows with requests served; this is the dev server's, not the controller's state (in production the line goes to Workers Logs).",
    "",
  ].join("\n");
}
