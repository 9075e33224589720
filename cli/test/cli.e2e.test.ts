import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, E2E_SECRETS, sendPush, startController, type Controller } from "../../test/e2e/controller.ts";
import { startStandin, type Standin } from "../../test/e2e/github-standin-server.ts";
import { ScriptedAgent } from "../../test/e2e/scripted-agent.ts";
import { until } from "../../test/e2e/until.ts";

// ctl as a user runs it: a subprocess against a real `wrangler dev` controller.
const CLI = join(import.meta.dirname, "../dist/cli/src/cli.js");
let controller: Controller;
/** The stand-in GitHub the controller reports to (test/github-standin.ts, checked against GitHub's OpenAPI description). */
let github: Standin;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, DEPLOYBOT_URL: controller.url, DEPLOYBOT_TOKEN: E2E_SECRETS.DEPLOYBOT_API_TOKENS, NO_COLOR: "1", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const config = `version: 1
defaults: { lease: 60s, retries: 1 }
hosts:
  cli-01: { mode: agent }
  cli-02: { mode: agent }
apps:
  web:
    repo: acme/web
    branches: [main]
    hosts: [cli-01, cli-02]
    deploy: { image: "127.0.0.1:5000/acme/web:{short_sha}", container: web }
`;

const sha = (n: number) => n.toString(16).padStart(40, "0");

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-p", join(import.meta.dirname, "..")], { stdio: "inherit" });
  github = await startStandin();
  controller = await startController({ vars: { GITHUB_TOKEN: "ghp_e2e", GITHUB_API_URL: github.url } });
});
afterAll(async () => {
  await controller?.dispose();
  await github?.close();
});

describe("config", () => {
  it("validates offline with line and column, and pushes and gets", async () => {
    const good = join(tmpdir(), `ctl-good-${process.pid}.yaml`);
    const bad = join(tmpdir(), `ctl-bad-${process.pid}.yaml`);
    writeFileSync(good, config);
    writeFileSync(bad, config.replace("mode: agent }\n  cli-02", "mode: agnet }\n  cli-02"));
    expect(await ctl(["config", "validate", good], { DEPLOYBOT_URL: "", DEPLOYBOT_TOKEN: "" })).toMatchObject({ code: 0, stdout: `${good}: valid (1 app(s), 2 host(s))\n` });
    const invalid = await ctl(["config", "validate", bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(new RegExp(`^${bad}:4:19: `));
    const json = JSON.parse((await ctl(["config", "validate", bad, "--json"])).stdout);
    expect(json.valid).toBe(false);
    expect(json.problems[0]).toMatchObject({ line: 4, column: 19 });

    expect(await ctl(["config", "push", good])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^stored as version \d+: 1 app\(s\), 2 host\(s\)\n$/) });
    expect((await ctl(["config", "push", good])).stdout).toMatch(/^unchanged/);
    expect((await ctl(["config", "get"])).stdout).toBe(config);
    const refused = await ctl(["config", "push", bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 4, column 19/);
    expect(await ctl(["config", "push", "/no/such/file.yaml"])).toMatchObject({ code: 2, stderr: "ctl: cannot read /no/such/file.yaml: ENOENT\n" });
  });
});

describe("jobs and hosts", () => {
  it("deploys, lists, shows and cancels, as tables and as JSON", async () => {
    const deployed = await ctl(["deploy", "--repo", "acme/web", "--ref", "main", "--host", "cli-02", "--sha", sha(1)]);
    expect(deployed.code).toBe(0);
    const id = /job (cli-02\.[0-9a-f-]{36}) queued/.exec(deployed.stdout)![1]!; // ids name their host
    const again = await ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-02", "--sha", sha(1), "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ id, status: "queued", host: "cli-02" });

    for (let i = 0; i < 20 && (await api(controller, `/v1/jobs/${id}`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    const ls = await ctl(["jobs", "ls", "--host", "cli-02"]);
    expect(ls.stdout.split("\n")[0]).toMatch(/^ID\s+APP\s+REF\s+HOST\s+STATUS\s+TRIGGER\s+CREATED\s+ERROR$/);
    expect(ls.stdout).toContain(id);
    const lsJson = JSON.parse((await ctl(["jobs", "ls", "--host", "cli-02", "--json"])).stdout);
    expect(lsJson).toMatchObject({ jobs: [expect.objectContaining({ id })], next_cursor: null });
    expect((await ctl(["jobs", "show", id])).stdout).toMatch(new RegExp(`^id\\s+${id}\\nstatus\\s+queued\\n`));
    expect(JSON.parse((await ctl(["jobs", "show", id, "--json"])).stdout)).toMatchObject({ id, sha: sha(1) });
    expect(await ctl(["jobs", "cancel", id])).toMatchObject({ code: 0, stdout: `job ${id} cancelled\n` });
    expect(await ctl(["jobs", "cancel", id])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^ctl: job already cancelled \(job_finished, 409\)\n$/) });
    expect(await ctl(["jobs", "show", "nope"])).toMatchObject({ code: 1, stderr: "ctl: no such job (job_not_found, 404)\n" });

    const hosts = await ctl(["hosts"]);
    expect(hosts.stdout).toMatch(/^NAME\s+MODE\s+ONLINE\s+HEARTBEAT\s+REACH\s+QUEUED\s+RUNNING\s+AGENT\ncli-01\s+agent\s+no\s+-\s+-\s+0\s+-\s+-\ncli-02\s+agent/);
    const hostsJson = JSON.parse((await ctl(["hosts", "--json"])).stdout);
    expect(hostsJson.hosts[0]).toEqual({
      name: "cli-01",
      mode: "agent",
      online: false,
      last_heartbeat_at: null,
      agent_id: null,
      queued: 0,
      running_job_id: null,
      reachable: null,
      last_connected_at: null,
      unreachable_since: null,
      reach_error: null,
    });
  });

  it("says clearly what is wrong: a refused token, an unreachable controller, a missing argument", async () => {
    expect(await ctl(["hosts"], { DEPLOYBOT_TOKEN: "wrong" })).toMatchObject({ code: 1, stderr: "ctl: the controller refused the token (401): check DEPLOYBOT_TOKEN\n" });
    const down = await ctl(["hosts"], { DEPLOYBOT_URL: "http://127.0.0.1:59999" });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^ctl: cannot reach the controller at http:\/\/127\.0\.0\.1:59999 \(ECONNREFUSED\)\n$/);
    expect(await ctl(["deploy", "--repo", "acme/web", "--host", "cli-01"])).toMatchObject({ code: 2, stderr: "ctl: missing --ref (see --help)\n" });
    expect(await ctl(["hosts"], { DEPLOYBOT_URL: "" })).toMatchObject({ code: 2, stderr: expect.stringMatching(/^ctl: no controller URL/) });
    const help = await ctl(["deploy", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("EXAMPLES");
    expect(help.stdout).not.toMatch(/\x1b\[/);
  });
});

describe("agents", () => {
  it("issues a host-bound enrollment token that registers that host once", async () => {
    const issued = await ctl(["agents", "enroll-token", "--host", "cli-01", "--json"]);
    expect(issued.code).toBe(0);
    const token = JSON.parse(issued.stdout) as { token: string; host: string; single_use: boolean };
    expect(token).toMatchObject({ host: "cli-01", single_use: true });
    const register = (hostname: string) =>
      fetch(`${controller.url}/v1/agents/register`, {
        method: "POST",
        headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" },
        body: JSON.stringify({ hostname, version: "cli-test" }),
      });
    expect((await register("cli-02")).status).toBe(403);
    expect((await register("cli-01")).status).toBe(201);
    expect((await register("cli-01")).status).toBe(401);
    expect((await ctl(["agents", "enroll-token", "--host", "nope"])).code).toBe(1);
  });

  it("revokes an agent: ends its job, refuses its token, and says how it comes back", async () => {
    const agent = await ScriptedAgent.register(controller, "cli-02");
    const deploying = ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-02", "--sha", sha(9), "--wait"]);
    const job = await agent.takeJob();
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    const listed = await ctl(["hosts"]);
    expect(listed.stdout).toMatch(new RegExp(`cli-02\\s+agent\\s+yes\\s+.*\\s+${agent.id}\\n`));

    const revoked = await ctl(["agents", "revoke", agent.id]);

    expect(revoked).toMatchObject({ code: 0, stderr: "" });
    expect(revoked.stdout).toContain(`agent ${agent.id} of host cli-02 revoked at `);
    expect(revoked.stdout).toContain(`ended its running job ${job.id}`);
    expect(revoked.stdout).toContain("deletes its state file");
    expect(await agent.heartbeat(job.id)).toMatchObject({ status: 401, body: { error: { code: "agent_revoked" } } });
    const waited = await deploying;
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(/agent_revoked/);
    const again = JSON.parse((await ctl(["agents", "revoke", agent.id, "--json"])).stdout);
    expect(again).toMatchObject({ agent_id: agent.id, hostname: "cli-02", failed_jobs: [] });
    expect(await ctl(["agents", "revoke", "no-such-agent"])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^ctl: .*no such agent/) });
    expect(await ctl(["agents", "revoke"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/agent id/) });
  });
});

describe("deploy --wait, logs -f and rollback", () => {
  it("follows the job's live log and exits 0 on success, 1 on failure", async () => {
    const agent = await ScriptedAgent.register(controller, "cli-01");
    const waiting = ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-01", "--sha", sha(2), "--wait"]);
    const job = await agent.takeJob();
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    await agent.log(job.id, ["pulling", "starting", "healthy"]);
    await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
    const ok = await waiting;
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/pulling\nstarting\nhealthy\n/);
    expect(ok.stderr).toMatch(/succeeded/);

    const failing = ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-01", "--sha", sha(3), "--wait"]);
    const second = await agent.takeJob();
    await agent.status(second.id, { status: "failed", exit_code: 2, error: "health: /up answered 503", attempt: second.attempt });
    const bad = await failing;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/failed: health: \/up answered 503/);
  });

  it("rolls back to the previous successful sha", async () => {
    const agent = await ScriptedAgent.register(controller, "cli-01");
    const pending = ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-01", "--sha", sha(4), "--wait"]);
    const job = await agent.takeJob();
    await agent.status(job.id, { status: "succeeded", exit_code: 0 });
    expect((await pending).code).toBe(0);
    for (let i = 0; i < 20; i++) {
      const list = (await (await api(controller, "/v1/jobs?app=web&host=cli-01&status=succeeded")).json()) as { jobs: unknown[] };
      if (list.jobs.length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rolled = await ctl(["rollback", "--app", "web", "--host", "cli-01", "--json"]);
    expect(rolled.code).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ sha: sha(2), trigger: "rollback", status: "queued" });
    const back = await agent.takeJob();
    await agent.status(back.id, { status: "succeeded", exit_code: 0 });
  });

  it("logs -f survives the controller restarting mid-job: every line once, in order", async () => {
    const agent = await ScriptedAgent.register(controller, "cli-02");
    const push = await sendPush(controller, { repo: "acme/web", ref: "refs/heads/main", sha: sha(5) });
    const jobId = ((await push.json()) as { jobs: Array<{ id: string; host: string }> }).jobs.find((j) => j.host === "cli-02")!.id;
    const job = await agent.takeJob();
    expect(job.id).toBe(jobId);
    await agent.status(jobId, { status: "running" });
    await agent.log(jobId, ["line 1", "line 2", "line 3"]);
    for (let i = 0; i < 20 && (await api(controller, `/v1/jobs/${jobId}`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));

    const following = ctl(["logs", jobId, "-f"]);
    await new Promise((r) => setTimeout(r, 1500));
    await controller.restart(); // drops the stream
    await agent.log(jobId, ["line 4", "line 5"]);
    await new Promise((r) => setTimeout(r, 1500));
    await agent.log(jobId, ["line 6"]);
    await agent.status(jobId, { status: "succeeded", exit_code: 0 });
    const run = await following;
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.startsWith("line "));
    expect(lines).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5", "line 6"]);
    expect(run.stderr).toMatch(/reconnecting/);

    const history = await ctl(["logs", jobId]);
    expect(history.stdout.split("\n").filter((l) => l.startsWith("line "))).toEqual(lines);
  });
});

describe("logs on a terminal", () => {
  /** ctl under `script`, so its stdout is a real terminal (a pty), as a person's would be. */
  function ctlOnTerminal(args: string[]): string {
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    return execFileSync("script", ["-qec", command, "/dev/null"], {
      env: { ...process.env, DEPLOYBOT_URL: controller.url, DEPLOYBOT_TOKEN: E2E_SECRETS.DEPLOYBOT_API_TOKENS, NO_COLOR: "1" },
      encoding: "utf8",
    });
  }

  it("shows escape sequences from a log instead of obeying them, and keeps them with --raw", async () => {
    const agent = await ScriptedAgent.register(controller, "cli-02");
    const push = await sendPush(controller, { repo: "acme/web", ref: "refs/heads/main", sha: sha(6) });
    const jobId = ((await push.json()) as { jobs: Array<{ id: string; host: string }> }).jobs.find((j) => j.host === "cli-02")!.id;
    const job = await agent.takeJob();
    expect(job.id).toBe(jobId);
    await agent.status(jobId, { status: "running" });
    await agent.log(jobId, ["plain", "\u001b]8;;https://evil.example\u0007click me\u001b]8;;\u0007 \u001b[2J"]);
    await agent.status(jobId, { status: "failed", exit_code: 1, error: "boom \u001b[31mred\u001b[0m" });
    for (let i = 0; i < 30 && !(await (await api(controller, `/v1/jobs/${jobId}/logs`)).text()).includes("click"); i++) await new Promise((r) => setTimeout(r, 100));

    const shown = ctlOnTerminal(["logs", jobId]);
    expect(shown).toContain("plain");
    expect(shown).toContain("\\x1b]8;;https://evil.example\\x07click me");
    expect(shown).not.toContain("\u001b");
    expect(ctlOnTerminal(["logs", jobId, "--raw"])).toContain("\u001b]8;;https://evil.example\u0007click me");
    const details = ctlOnTerminal(["jobs", "show", jobId]);
    expect(details).toContain("boom \\x1b[31mred");
    expect(details).not.toContain("\u001b");
  });
});

describe("GitHub and notifications", () => {
  /** Runs `ctl` until its output matches (GitHub hears after the deploy, through the app's outbox). */
  const shows = (args: string[], pattern: RegExp) =>
    until(`ctl ${args.join(" ")} to match ${pattern}`, async () => {
      const out = (await ctl(args)).stdout;
      return pattern.test(out) && out;
    });
  const run = async (agent: ScriptedAgent) => {
    const job = await agent.takeJob();
    await agent.status(job.id, { status: "running", attempt: job.attempt });
    await agent.status(job.id, { status: "succeeded", exit_code: 0, attempt: job.attempt });
    return job.id as string;
  };

  it("jobs show and rollouts show have the GitHub line: the last state GitHub accepted and where to see it", async () => {
    const agents = [await ScriptedAgent.register(controller, "cli-01"), await ScriptedAgent.register(controller, "cli-02")];
    const job = JSON.parse((await ctl(["deploy", "--app", "web", "--ref", "main", "--host", "cli-01", "--sha", sha(77), "--json"])).stdout);
    expect(await run(agents[0]!)).toBe(job.id);
    await shows(["jobs", "show", job.id], /\ngithub\s+success · https:\/\/github\.test\/repos\/acme\/web\/deployments\/\d+\n$/);

    const rollout = JSON.parse((await ctl(["deploy", "--app", "web", "--ref", "main", "--sha", sha(78), "--json"])).stdout);
    for (const agent of agents) await run(agent);
    const shown = await shows(["rollouts", "show", rollout.id], /\ngithub {2}deploybot\/web success/);
    expect(shown.split("\n").slice(1, 3)).toEqual([
      "web main@0000000 → 2 host(s) in 1 wave(s): succeeded",
      `github  deploybot/web success · ${github.url}/acme/web/commit/${sha(78)}`,
    ]);
    // The rollout's job on cli-01 replaced the first job's release there: GitHub heard it went inactive.
    await shows(["jobs", "show", job.id], /\ngithub\s+inactive · https:\/\/github\.test\/repos\/acme\/web\/deployments\/\d+\n$/);
    const told = (await (await fetch(`${github.url}/_standin/requests?repo=acme/web`)).json()) as Array<{ problems: string[] }>;
    expect(told.length).toBeGreaterThan(0);
    expect(told.flatMap((r) => r.problems)).toEqual([]);
  });

  it("notify test queues a test event per URL, or says why not", async () => {
    const notifying = `${config}    notify:\n      - { url: "http://127.0.0.1:9/deploybot", events: [job.failed] }\n`;
    expect((await api(controller, "/v1/config", { method: "PUT", body: notifying, headers: { "content-type": "application/yaml" } })).status).toBe(200);
    expect(await ctl(["notify", "test", "web"])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^queued a test event to 1 URL of web: [0-9a-f-]{36}\n$/) });
    expect(await ctl(["notify", "test", "nope"])).toMatchObject({ code: 1, stderr: 'ctl: app "nope" is not in apps.yaml (unknown_app, 404)\n' });
  });
});

it("the bin is the built CLI", () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
  expect(pkg.bin.ctl).toBe("cli/dist/cli/src/cli.js");
});
