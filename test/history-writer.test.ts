import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { d1AppHistoryWriter } from "../src/app/history";
import { d1LogWriter } from "../src/host/history";
import type { JobSnapshot } from "../src/schemas/jobs";

const base: JobSnapshot = {
  id: "hist-01.0b1c2d3e-0000-4000-8000-000000000001", app: "hist", repo: "acme/hist", ref: "refs/heads/main", sha: "a".repeat(40),
  host: "hist-01", mode: "agent", status: "queued", attempt: 1, agent_id: null, trigger: "webhook", delivery_id: "d-1",
  created_at: "2026-12-04T10:00:00.000Z", started_at: null, finished_at: null, exit_code: null, error: null, rollout_id: "hist.r-1", version: 1,
};
const row = (id: string) => env.DB.prepare("SELECT *, typeof(exit_code) AS exit_type, typeof(attempt) AS attempt_type FROM jobs WHERE id = ?").bind(id).first<any>();

describe("the app's history writer to D1", () => {
  it("writes a wave's job snapshots, keeps the newest version of each, and never rolls a row back", async () => {
    const writer = d1AppHistoryWriter(env.DB, () => null);
    const other = { ...base, id: "hist-02.0b1c2d3e-0000-4000-8000-000000000002", host: "hist-02" };
    await writer.write([{ job: { ...base, version: 2, status: "running", agent_id: "agent-1", started_at: "2026-12-04T10:00:01.000Z" } }, { job: other }]);
    expect(await row(base.id)).toMatchObject({ status: "running", version: 2, agent_id: "agent-1", started_at: "2026-12-04T10:00:01.000Z", exit_type: "null", attempt_type: "integer" });
    expect(await row(other.id)).toMatchObject({ status: "queued", version: 1, host: "hist-02" });

    // A late, older snapshot changes nothing.
    await writer.write([{ job: base }]);
    expect(await row(base.id)).toMatchObject({ status: "running", version: 2 });

    // Several versions of a job in one batch: the newest is written, whatever their order.
    const done = { ...base, version: 4, status: "failed" as const, finished_at: "2026-12-04T10:00:09.000Z", exit_code: 3, error: "health check: 'up' answered 503" };
    await writer.write([{ job: done }, { job: { ...base, version: 3, status: "running" } }]);
    expect(await row(base.id)).toMatchObject({ status: "failed", version: 4, exit_code: 3, exit_type: "integer", error: "health check: 'up' answered 503", finished_at: done.finished_at });
  });
});

describe("the host's log writer to D1", () => {
  it("stores every line once and as sent, more text than one statement takes included", async () => {
    const jobId = "hist-03.0b1c2d3e-0000-4000-8000-000000000003";
    const line = (pos: number, text: string) => ({ job_id: jobId, pos, attempt: 1, seq: pos, ts: "2026-12-04T10:00:00.000Z", stream: pos % 2 ? "stderr" : "stdout", text });
    const odd = ['quote " and \\ backslash', "tab\tand emoji 🚀 and ünïcode", "  leading spaces, and a ' quote", "{\"json\": [1, 2]}"];
    // 40 lines of 16 KB: more text than one statement takes.
    const lines = [...odd.map((text, i) => line(i + 1, text)), ...Array.from({ length: 40 }, (_, i) => line(odd.length + i + 1, String(i % 10).repeat(16 * 1024)))];
    await d1LogWriter(env.DB).writeLogs(lines);
    await d1LogWriter(env.DB).writeLogs(lines.slice(0, 2)); // delivered again: ignored
    const stored = await env.DB.prepare("SELECT pos, attempt, seq, stream, text, typeof(pos) AS pos_type FROM job_logs WHERE job_id = ? ORDER BY pos").bind(jobId).all<any>();
    expect(stored.results).toHaveLength(lines.length);
    expect(stored.results.map((r) => r.text)).toEqual(lines.map((l) => l.text));
    expect(stored.results[1]).toMatchObject({ pos: 2, attempt: 1, seq: 2, stream: "stdout", pos_type: "integer" });
    expect(stored.results[0]).toMatchObject({ pos: 1, stream: "stderr" });
  });
});
