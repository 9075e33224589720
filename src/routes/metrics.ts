import { createRoute, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { HOST_CALLS_AT_ONCE, mapBounded } from "../util/bounded";
import { loadRunningConfig } from "../config/current";
import { deliveryCounts, jobCounts } from "../db/queries";
import { DISPATCH_BUCKETS } from "../host/counters";
import { hostQueue } from "../host/stub";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses } from "../schemas/common";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["meta"],
  summary: "Prometheus metrics",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  responses: {
    200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } },
    ...errorResponses(401),
  },
});

const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** Collects samples per metric family and renders them with HELP and TYPE lines. */
class Exposition {
  private readonly families: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: Array<[string, Record<string, string>, number]>) {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
    for (const [suffix, labels, value] of samples) {
      const rendered = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",");
      lines.push(`${name}${suffix}${rendered ? `{${rendered}}` : ""} ${value}`);
    }
    this.families.push(lines.join("\n"));
  }

  toString() {
    return `${this.families.join("\n")}\n`;
  }
}

export const metricsRouter = createRouter().openapi(metricsRoute, async (c) => {
  const db = drizzle(c.env.DB);
  const { config } = await loadRunningConfig(c.env.DB);
  const hosts = Object.keys(config.hosts).sort();
  const [jobs, deliveries, perHost] = await Promise.all([
    jobCounts(db),
    deliveryCounts(db),
    // One call per host, at most 50 at once: a fleet of thousands must not open thousands of calls together.
    mapBounded(hosts, HOST_CALLS_AT_ONCE, async (host) => ({ host, metrics: await hostQueue(c.env, host).metrics() })),
  ]);

  const out = new Exposition();
  out.family("deploybot_jobs", "gauge", "Jobs in history by host and status.", jobs.map((r) => ["", { host: r.host, status: r.status }, r.n]));
  out.family("deploybot_webhook_deliveries_total", "counter", "GitHub webhook deliveries by outcome.", deliveries.map((r) => ["", { outcome: r.outcome }, r.n]));
  out.family("deploybot_heartbeats_total", "counter", "Agent heartbeats received, by host.", perHost.map((h) => ["", { host: h.host }, h.metrics.heartbeats]));
  out.family("deploybot_agents_online", "gauge", "Agents heard from in the last 75 s, by host.", perHost.map((h) => ["", { host: h.host }, h.metrics.agents_online]));
  out.family("deploybot_queue_length", "gauge", "Queued jobs, by host.", perHost.map((h) => ["", { host: h.host }, h.metrics.queued]));
  out.family(
    "deploybot_dispatch_wait_seconds",
    "histogram",
    "Time from a job being queued to an agent receiving it, by host.",
    perHost.flatMap((h) => [
      ...DISPATCH_BUCKETS.map((le, i): [string, Record<string, string>, number] => ["_bucket", { host: h.host, le: String(le) }, h.metrics.dispatch_buckets[i] ?? 0]),
      ["_bucket", { host: h.host, le: "+Inf" }, h.metrics.dispatch_count],
      ["_sum", { host: h.host }, h.metrics.dispatch_sum_s],
      ["_count", { host: h.host }, h.metrics.dispatch_count],
    ]),
  );
  return c.text(out.toString(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});
