import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// `npm test` checks the services its suites need before running any (scripts/services.mjs). Chromium is made
// "missing" by pointing CHROMIUM_PATH at nothing, so no package is installed or removed here.
const missingChromium = { ...process.env, CHROMIUM_PATH: "/nonexistent/chromium" };

function npmTest(args: string[], asUser?: number) {
  const node = process.execPath;
  const [cmd, argv] = asUser === undefined
    ? [node, ["scripts/test.mjs", ...args]]
    : ["setpriv", [`--reuid=${asUser}`, `--regid=${asUser}`, "--clear-groups", node, "scripts/test.mjs", ...args]];
  const started = Date.now();
  const run = spawnSync(cmd, argv, { encoding: "utf8", env: missingChromium, timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}`, ms: Date.now() - started };
}

describe("npm test brings up its services", () => {
  it("as another user, stops at once with the one command to run, and runs no suite", () => {
    expect(process.getuid?.(), "this test needs root, to run npm test as the user nobody").toBe(0);
    const { status, output, ms } = npmTest(["e2e"], 65534);
    expect(status).toBe(1);
    expect(output).toContain("Chromium for the dashboard tests");
    expect(output).toMatch(/^ {2}sudo .*bash scripts\/services\/chromium\.sh/m);
    expect(output).not.toContain("=== e2e");
    expect(ms).toBeLessThan(15_000);
  });

  it("as root, runs the service script for what is missing, then checks again", () => {
    const { status, output } = npmTest(["e2e"]);
    expect(output).toContain("running bash scripts/services/chromium.sh");
    expect(output).toContain("[chromium.sh]"); // the script itself ran
    // The script finds /usr/bin/chromium, but CHROMIUM_PATH still names nothing: it fails rather than running tests.
    expect(output).toContain("bash scripts/services/chromium.sh did not bring up Chromium");
    expect(status).toBe(1);
    expect(output).not.toContain("=== e2e");
  });

  it("needs nothing for the worker suite alone", () => {
    const check = `import("./scripts/services.mjs").then(async (m) => console.log(await m.ensureServices(["worker"], { isRoot: false })))`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", check], { encoding: "utf8", env: missingChromium });
    expect(run.stdout.trim()).toBe("null");
  });
});
