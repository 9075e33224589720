import { request } from "node:http";

/** What a load loop saw: requests answered by the app, failures, and the longest gap between two successes. */
export interface LoadReport {
  ok: number;
  failed: number;
  failures: string[];
  longestGapMs: number;
}

/**
 * A steady GET every INTERVALMS against URL, as a user's traffic during a
 * deploy, each on a fresh connection like separate visitors. Only the app's
 * own page counts (Caddy answers an empty 200 when no route matches). Bounded:
 * it stops at `stop()` or after MAXMS.
 */
export function startLoad(url: string, { intervalMs = 10, maxMs = 5 * 60_000, expect = /^hello/ } = {}) {
  const report: LoadReport = { ok: 0, failed: 0, failures: [], longestGapMs: 0 };
  let stopped = false;
  let lastOk = 0;
  const deadline = Date.now() + maxMs;
  const once = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent: false, timeout: 5000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          if (res.statusCode! >= 200 && res.statusCode! < 300 && expect.test(body)) {
            const now = Date.now();
            if (lastOk) report.longestGapMs = Math.max(report.longestGapMs, now - lastOk);
            lastOk = now;
            report.ok++;
          } else fail(`HTTP ${res.statusCode} ${JSON.stringify(body.trim().slice(0, 60))}`);
          resolve();
        });
        res.on("error", (err) => (fail(err.message), resolve()));
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
      req.on("error", (err) => (fail(err.message), resolve()));
      req.end();
    });
  const fail = (what: string) => {
    report.failed++;
    if (report.failures.length < 20) report.failures.push(what);
  };
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      await once();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    report,
    /** Resolves once COUNT more requests have been answered by the app; rejects after 15 s. */
    async successes(count: number): Promise<void> {
      const target = report.ok + count;
      const until = Date.now() + 15_000;
      while (report.ok < target) {
        if (Date.now() > until) throw new Error(`the load loop saw no successes; failures: ${report.failures.slice(0, 5).join("; ")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop(): Promise<LoadReport> {
      stopped = true;
      await loop;
      return report;
    },
  };
}
