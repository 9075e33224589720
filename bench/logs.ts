// Logs: agent line → SSE subscriber latency, and sustained lines per second for one job with
// 10 subscribers, every subscriber checked for every line (no loss, no duplicate, in order).
import { request } from "node:http";
import { api, E2E_SECRETS, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { ms, summary } from "./lib.ts";

const SUBSCRIBERS = 10;
const LINES = Number(process.env.BENCH_LOG_LINES ?? 20_000);
const BATCH = 200;

const config = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  bench-logs: { mode: agent }
apps:
  logs:
    repo: bench/logs
    branches: [main]
    hosts: [bench-logs]
    deploy: { image: "127.0.0.1:5000/bench:{short_sha}", container: logs }
`;

/**
 * Reads an SSE stream over its own connection (node:http, no keep-alive pool: a pooled socket the
 * dev server already closed would reset), calling `onLog` for each log event. Resolves on `end`.
 */
function subscribe(controller: Controller, jobId: string, onLog: (data: any) => void, ready: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${controller.url}/v1/logs/stream?job_id=${jobId}`,
      { agent: false, headers: { authorization: `Bearer ${E2E_SECRETS.DEPLOYBOT_API_TOKENS}` } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`));
        ready();
        res.setEncoding("utf8");
        let buffer = "";
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let split: number;
          while ((split = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, split);
            buffer = buffer.slice(split + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event === "log" && data) onLog(JSON.parse(data));
            if (event === "end") {
              res.destroy();
              resolve();
            }
          }
        });
        res.on("end", resolve);
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export async function benchLogs(controller: Controller): Promise<string> {
  const put = await api(controller, "/v1/config", { method: "PUT", body: config, headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status}`);
  const agent = await ScriptedAgent.register(controller, "bench-logs");
  const created = await api(controller, "/v1/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ app: "logs", ref: "main", sha: "b".repeat(40), host: "bench-logs" }),
  });
  const jobId = ((await created.json()) as { id: string }).id;
  const beat = await agent.call(`/v1/agents/${agent.id}/heartbeat`, { running_job_id: null });
  if (beat.body?.job?.id !== jobId) throw new Error("job not handed out");
  await agent.call(`/v1/jobs/${jobId}/status`, { status: "running" });
  for (let i = 0; i < 50; i++) {
    // the stream route reads the job from D1, which the outbox fills within moments
    if ((await api(controller, `/v1/jobs/${jobId}`)).status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const seen = Array.from({ length: SUBSCRIBERS }, () => [] as number[]);
  let readyCount = 0;
  let streams: Promise<void>[] = [];
  const allReady = new Promise<void>((resolve) => {
    const ready = () => ++readyCount === SUBSCRIBERS && resolve();
    streams = seen.map((list, index) =>
      subscribe(controller, jobId, (data) => {
        if (data.stream !== "stdout") return;
        list.push(data.seq);
        if (index === 0) latencies.push(performance.now() - sentAt.get(data.seq)!);
      }, ready),
    );
  });
  await allReady;

  const started = performance.now();
  for (let seq = 1; seq <= LINES; seq += BATCH) {
    const lines = [];
    for (let i = seq; i < seq + BATCH && i <= LINES; i++) lines.push({ seq: i, ts: new Date().toISOString(), stream: "stdout", text: `line ${i} ${"x".repeat(60)}` });
    const now = performance.now();
    for (const line of lines) sentAt.set(line.seq, now);
    const res = await agent.call(`/v1/jobs/${jobId}/logs`, { lines });
    if (res.status !== 204) throw new Error(`logs: ${res.status}`);
  }
  const sent = performance.now();
  await agent.call(`/v1/jobs/${jobId}/status`, { status: "succeeded", exit_code: 0 });
  await Promise.all(streams);
  const finished = performance.now();

  const complete = seen.every((list) => list.length === LINES && list.every((seq, i) => seq === i + 1));
  if (!complete) throw new Error(`a subscriber missed lines: ${seen.map((l) => l.length).join(", ")}`);
  const lat = summary(latencies);
  const rate = LINES / ((finished - started) / 1000);
  return [
    "## Logs: agent → SSE subscribers",
    "",
    `One job, ${LINES.toLocaleString("en")} lines of ~70 bytes in batches of ${BATCH}, ${SUBSCRIBERS} SSE subscribers on the job. Every subscriber received every line once, in order: **${complete ? "yes" : "no"}**.`,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| line latency (batch sent → first subscriber has it) p50 / p99 | ${ms(lat.p50)} / ${ms(lat.p99)} |`,
    `| sustained rate, all ${SUBSCRIBERS} subscribers complete | ${Math.round(rate).toLocaleString("en")} lines/s |`,
    `| agent side alone (all batches acknowledged) | ${Math.round(LINES / ((sent - started) / 1000)).toLocaleString("en")} lines/s |`,
    "",
    "Streams are served by the Worker from a WebSocket to the host's Durable Object, accepted with the hibernation API: while a job is quiet, an open stream does not keep the object awake (the Worker holds the client's connection).",
    "",
  ].join("\n");
}
