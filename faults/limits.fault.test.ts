import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, startController, type Controller } from "../test/e2e/controller.ts";
import { ScriptedAgent } from "../test/e2e/scripted-agent.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let controller: Controller;

const json = async (res: Response) => (await res.json()) as any;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * An apps.yaml of `hosts` agent hosts h-00000…, with apps of 1,000 hosts each over the first `mapped` of them,
 * and an app `canary` on h-03000…h-03049 while app-3 exists.
 */
function fleet(hosts: number, mapped = hosts): string {
  const names = Array.from({ length: hosts }, (_, i) => `h-${String(i).padStart(5, "0")}`);
  const apps = [];
  for (let start = 0; start < mapped; start += 1_000) {
    const members = names.slice(start, Math.min(start + 1_000, mapped));
    apps.push(`  app-${start / 1_000}: { repo: acme/app-${start / 1_000}, branches: [main], hosts: [${members.join(", ")}], deploy: { image: "r/app:{short_sha}", container: app } }`);
  }
  if (mapped > 3_000) {
    apps.push(`  canary: { repo: acme/canary, branches: [main], hosts: [${names.slice(3_000, 3_050).join(", ")}], deploy: { image: "r/canary:{short_sha}", container: canary } }`);
  }
  return `version: 1\ndefaults: { lease: 30s }\nhosts:\n${names.map((n) => `  ${n}: { mode: agent }`).join("\n")}\napps:${apps.length ? `\n${apps.join("\n")}` : " {}"}\n`;
}

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await run();
  return [value, performance.now() - started];
}

const putConfig = (yaml: string) => api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });

beforeAll(async () => {
  controller = await startController();
});
afterAll(async () => {
  await controller?.dispose();
});

it("5,000 hosts: /v1/hosts, /metrics and config changes of 1,000 hosts", async () => {
  await report.verify(
    {
      title: "5,000 hosts",
      did: "PUT an apps.yaml of 4,000 agent hosts (apps of 1,000 hosts each), queued a job on 50 of them, then PUT one of 5,000 hosts (1,000 added), read /v1/hosts (its first page; then every page, which wakes all 5,000 host objects for the first time), /metrics, and PUT one of 4,000 hosts again (1,000 removed) whose apps no longer reach the 50 hosts with queued jobs. Then PUT files of 5,001 and of 40,000 hosts.",
      must: "The first page of /v1/hosts answers in under 1 s; /metrics answers with a sample for each of the 5,000 hosts; each PUT finishes and the removal cancels the 50 queued jobs; the over-sized files answer 422 and change nothing.",
    },
    async () => {
      const [first, firstMs] = await timed(() => putConfig(fleet(4_000)));
      expect(first.status).toBe(200);
      await first.text();
      const push = await json(await sendPush(controller, { repo: "acme/canary", ref: "refs/heads/main", sha: "3".repeat(40) }));
      expect(push.jobs).toHaveLength(50);

      const [added, addMs] = await timed(() => putConfig(fleet(5_000)));
      expect(added.status).toBe(200);
      expect((await json(added)).hosts).toHaveLength(5_000);

      await (await api(controller, "/v1/hosts")).text(); // the first read after a change parses the file
      const [page, pageMs] = await timed(async () => json(await api(controller, "/v1/hosts")));
      expect(page.hosts).toHaveLength(100);
      expect(page.total).toBe(5_000);
      expect(pageMs).toBeLessThan(1_000);
      const [all, allMs] = await timed(async () => {
        const names: string[] = [];
        for (let cursor: string | null = null, first = true; first || cursor; first = false) {
          const body: any = await json(await api(controller, `/v1/hosts?limit=500${cursor ? `&cursor=${cursor}` : ""}`));
          names.push(...body.hosts.map((h: any) => h.name));
          cursor = body.next_cursor;
        }
        return names;
      });
      expect(new Set(all).size).toBe(5_000);

      const [metrics, metricsMs] = await timed(async () => {
        const res = await api(controller, "/metrics");
        expect(res.status).toBe(200);
        return res.text();
      });
      expect(metrics.match(/^deploybot_queue_length\{host="h-\d{5}"\} \d+$/gm)).toHaveLength(5_000);

      // canary (h-03000…h-03049, each with a queued job) is gone: those jobs are cancelled.
      const [removed, removeMs] = await timed(() => putConfig(fleet(4_000, 3_000)));
      expect(removed.status).toBe(200);
      const removal = await json(removed);
      expect(removal.hosts).toHaveLength(4_000);
      expect(removal.cancelled_jobs).toHaveLength(50);

      const tooMany = await putConfig(fleet(5_001, 0));
      expect(tooMany.status).toBe(422);
      expect((await json(tooMany)).error.message).toMatch(/5001 hosts; apps.yaml may define at most 5000/);
      const huge = await putConfig(fleet(40_000, 0));
      expect(huge.status).toBe(422);
      await huge.text();
      expect((await json(await api(controller, "/v1/hosts"))).total).toBe(4_000);
      return (
        `PUT 4,000 hosts ${seconds(firstMs)}; PUT adding 1,000 hosts ${seconds(addMs)}; ` +
        `/v1/hosts first page (100 hosts) ${seconds(pageMs)}, all 5,000 in pages of 500 ${seconds(allMs)} (each object's first wake-up); /metrics for 5,000 hosts ${seconds(metricsMs)}; ` +
        `PUT removing 1,000 hosts ${seconds(removeMs)}, cancelling their ${removal.cancelled_jobs.length} queued jobs; 5,001 and 40,000 hosts answered 422.`
      );
    },
  );
}, 1_200_000);

it("an agent parks log data ahead of a missing line", async () => {
  await report.verify(
    {
      title: "Log lines parked ahead of a gap",
      did: "An agent holding a job sent its lines 2, 3, … in 9 batches of 1,000 lines of 4 KiB (4 MB each), never line 1, then a line 20,000 ahead of the gap, then line 1 alone.",
      must: "Parked data is counted when it is parked: past 4 MiB the batch answers 413 and is not kept; a line more than 10,000 ahead answers 422; the 1-line batch that fills the gap releases what was parked and costs about what it releases.",
    },
    async () => {
      const yaml = `version: 1\nhosts:\n  logs-01: { mode: agent }\napps:\n  web: { repo: acme/web, branches: [main], hosts: [logs-01], deploy: { image: "r/web:{short_sha}", container: web } }\n`;
      const put = await putConfig(yaml);
      expect(put.status).toBe(200);
      await put.text();
      const agent = await ScriptedAgent.register(controller, "logs-01");
      const push = await json(await sendPush(controller, { repo: "acme/web", ref: "refs/heads/main", sha: "5".repeat(40) }));
      const jobId = push.jobs[0].id;
      const job = await agent.takeJob();
      expect(job.id).toBe(jobId);
      expect((await agent.status(jobId, { status: "running" })).status).toBe(200);

      const text = "x".repeat(4 * 1024);
      const batch = (from: number, count: number) =>
        agent.call(`/v1/jobs/${jobId}/logs`, { lines: Array.from({ length: count }, (_, i) => ({ seq: from + i, ts: new Date().toISOString(), stream: "stdout", text })) });
      const answers: number[] = [];
      for (let i = 0; i < 9; i++) answers.push((await batch(2 + i * 1_000, 1_000)).status);
      const accepted = answers.filter((s) => s === 204).length;
      expect(answers.slice(0, accepted).every((s) => s === 204)).toBe(true);
      expect(accepted).toBeLessThanOrEqual(1);
      expect(answers.slice(accepted).every((s) => s === 413)).toBe(true);
      const far = await batch(20_000, 1);
      expect(far.status).toBe(422);

      const [filled, fillMs] = await timed(() => batch(1, 1));
      expect(filled.status).toBe(204);
      const [again, oneMs] = await timed(() => batch(2 + accepted * 1_000, 1));
      expect(again.status).toBe(204);
      const logs = await json(await api(controller, `/v1/jobs/${jobId}/logs?limit=10`));
      expect(logs.lines.filter((l: any) => l.stream !== "system").map((l: any) => l.seq).slice(0, 3)).toEqual([1, 2, 3]);
      return (
        `${accepted} batch of 4 MB parked, then ${answers.length - accepted} answered 413 (${far.status} for a line 20,000 ahead); ` +
        `the batch filling the gap released ${accepted * 1_000 + 1} lines in ${seconds(fillMs)}; a 1-line batch after it took ${seconds(oneMs)}.`
      );
    },
  );
});
