import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startController, type Controller } from "./controller";

// npm run backup / npm run restore (scripts/state.mjs) against a real controller's local D1 and Durable
// Object state (wrangler dev --persist-to, which is where npm start keeps it too: <dir>/v3/{d1,do}).

const configA = "version: 1\nhosts:\n  h-a: { mode: agent }\napps: {}\n";
const configB = "version: 1\nhosts:\n  h-b: { mode: agent }\napps: {}\n";

let controller: Controller;
let scratch: string;
const state = () => join(controller.stateDir, "state");

function stateCli(...args: string[]) {
  const run = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", "scripts/state.mjs", ...args], { encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

async function putConfig(yaml: string) {
  const res = await api(controller, "/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

async function runningConfig() {
  const res = await api(controller, "/v1/config");
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  controller = await startController();
  scratch = mkdtempSync(join(tmpdir(), "deploybot-state-"));
});

afterAll(async () => {
  await controller?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe("backup and restore of the local state", () => {
  it("snapshots a running controller and brings that state back after later changes", async () => {
    await putConfig(configA);
    const file = join(scratch, "a.tar.gz");
    const backedUp = stateCli("backup", file, "--state", state());
    expect(backedUp.output).toMatch(/backed up \d+ databases/);
    expect(backedUp.status).toBe(0);

    await putConfig(configB);
    expect(await runningConfig()).toBe(configB);

    await controller.stop();
    const restored = stateCli("restore", file, "--state", state());
    expect(restored.status).toBe(0);
    expect(restored.output).toContain("the state it replaced is in");
    expect(readdirSync(state()).some((d) => d.startsWith("before-restore-"))).toBe(true);

    await controller.restart();
    expect(await runningConfig()).toBe(configA);
  });

  it("refuses to overwrite a file, and an archive that is not a backup changes nothing", async () => {
    const existing = join(scratch, "exists.tar.gz");
    writeFileSync(existing, "not mine");
    const overwrite = stateCli("backup", existing, "--state", state());
    expect(overwrite.status).toBe(1);
    expect(overwrite.output).toContain("exists; name a new file");

    const foreign = join(scratch, "foreign");
    mkdirSync(join(foreign, "etc"), { recursive: true });
    writeFileSync(join(foreign, "etc", "passwd"), "root:x:0:0\n");
    const bad = join(scratch, "bad.tar.gz");
    expect(spawnSync("tar", ["czf", bad, "-C", foreign, "etc"]).status).toBe(0);
    const before = readdirSync(state()).sort();
    const refused = stateCli("restore", bad, "--state", state());
    expect(refused.status).toBe(1);
    expect(refused.output).toContain("is not a DeployBot backup");
    expect(readdirSync(state()).sort()).toEqual(before);
    expect(await runningConfig()).toBe(configA);
  });

  it("says how to call it when the file is missing", () => {
    const usage = stateCli("backup");
    expect(usage.status).toBe(2);
    expect(usage.output).toContain("usage: npm run backup -- FILE.tar.gz");
    expect(existsSync(join(scratch, "missing.tar.gz"))).toBe(false);
    expect(stateCli("restore", join(scratch, "missing.tar.gz"), "--state", state()).output).toContain("does not exist");
  });
});
