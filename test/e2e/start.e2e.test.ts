import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startController } from "./controller.ts";

// The start command's settings (scripts/start.mjs, scripts/local-worker.mjs): what it refuses before touching
// anything, and the V8 flags it writes into workerd's configuration (BENCHMARKS.md, "npm start for 30 minutes").

const scratch = mkdtempSync(join(tmpdir(), "deploybot-start-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function start(env: Record<string, string>) {
  const run = spawnSync(process.execPath, ["scripts/start.mjs"], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("npm start", () => {
  it("refuses an inspector address off loopback before it does anything", () => {
    for (const address of ["0.0.0.0:9229", "192.168.1.5:9229", "127.0.0.1", "127.0.0.1:70000", "localhost:9229"]) {
      const { status, output } = start({ DEPLOYBOT_WORKERD_INSPECTOR: address, PORT: "8799" });
      expect(status, address).toBe(2);
      expect(output).toContain("DEPLOYBOT_WORKERD_INSPECTOR must be 127.0.0.1:PORT");
      expect(output).not.toContain("bundling");
    }
  });

  it("writes workerd's configuration with every collection a full one and a 1 MiB young generation", () => {
    // prepareWorker bundles the Worker and has Miniflare write the configuration (a Cap'n Proto message, where
    // the v8Flags are plain text).
    const outdir = join(scratch, "start");
    const script = `import("./scripts/local-worker.mjs").then((m) => m.prepareWorker("wrangler.dev.toml", ${JSON.stringify(outdir)}))`;
    const env = { ...process.env };
    delete env.DEPLOYBOT_WORKERD_V8_FLAGS;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env, timeout: 150_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(existsSync(join(outdir, "workerd.capnp"))).toBe(true);
    const config = readFileSync(join(outdir, "workerd.capnp")).toString("latin1");
    expect(config).toContain("--gc-global");
    expect(config).toContain("--max-semi-space-size=1");
  });

  it("serves the dashboard and the API on its one address, without Miniflare's entry worker", async () => {
    const controller = await startController({ runtime: "workerd" });
    try {
      const page = await fetch(`${controller.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<title>DeployBot</title>");
      // The API goes to the Worker first (run_worker_first): its own 401, as JSON.
      const api = await fetch(`${controller.url}/v1/jobs`);
      expect(api.status).toBe(401);
      expect(((await api.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      // Miniflare's entry worker would have asked the Worker for gzip and compressed the answer; the Worker's
      // own socket gives its answer as the Worker made it.
      const health = await fetch(`${controller.url}/health`, { headers: { "accept-encoding": "gzip" } });
      expect(health.status).toBe(200);
      expect(health.headers.get("content-encoding")).toBeNull();
    } finally {
      await controller.dispose();
    }
  });
});
