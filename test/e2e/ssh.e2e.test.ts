import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, freePort, sendPush, waitForJobEnd } from "./controller.ts";
import { startSshStack, type SshStack } from "./ssh-stack.ts";

// Agentless mode end to end: signed push → controller → real relay → real sshd → real Docker.
let stack: SshStack;
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
const sha = (n: number) => n.toString(16).padStart(40, "0");
const PWNED = ["/tmp/deploybot-pwned", "/tmp/deploybot-pwned-env", "/tmp/deploybot-pwned-branch"];

const finished = (jobId: string) => waitForJobEnd(stack.controller, jobId);

async function pushTag(tag: string, n: number): Promise<string> {
  const res = await sendPush(stack.controller, { repo: "acme/hello", ref: `refs/tags/${tag}`, sha: sha(n) });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(202);
  expect(body.jobs).toHaveLength(1);
  return body.jobs[0].id;
}

const serving = async () => (await fetch(`http://127.0.0.1:${stack.appPort}/`)).text();

beforeAll(async () => {
  for (const file of PWNED) rmSync(file, { force: true });
  stack = await startSshStack("ssh-e2e");
});
afterAll(async () => {
  try {
    docker("rm", "-f", stack.container);
  } catch {
    // not there
  }
  await stack?.dispose();
});

describe("deploys over SSH through the relay", () => {
  it("a signed push deploys v1: the container serves it and the log streams over SSE", async () => {
    const jobId = await pushTag("v1", 1);
    const stream = await api(stack.controller, `/v1/logs/stream?job_id=${jobId}`);
    expect(stream.status).toBe(200);
    const text = await stream.text(); // the stream ends with the job
    const job = await finished(jobId);
    expect(job).toMatchObject({ status: "succeeded", mode: "ssh", agent_id: "ssh-relay" });
    expect(await serving()).toContain("hello v1");
    expect(text).toMatch(/event: end\ndata: \{"job_id":"[^"]+","status":"succeeded"\}/);
    expect(text).toMatch(/event: log\n/);
    expect(text).toContain("127.0.0.1:5000/deploybot/hello:v1");
  });

  it("an env value with quotes, newlines and $(…) arrives byte for byte and runs nothing", async () => {
    const env = JSON.parse(docker("inspect", "--format", "{{json .Config.Env}}", stack.container)) as string[];
    expect(env).toContain(`QUOTED=it's "quoted"\nline two $(id) \`id\`; touch /tmp/deploybot-pwned-env`);
    expect(existsSync("/tmp/deploybot-pwned-env")).toBe(false);
  });

  it("v2 replaces v1; a broken tag fails its health check and v2 is put back", async () => {
    expect(await finished(await pushTag("v2", 2))).toMatchObject({ status: "succeeded" });
    expect(await serving()).toContain("hello v2");
    const broken = await finished(await pushTag("broken", 3));
    expect(broken.status).toBe("failed");
    expect(broken.error).toMatch(/health/);
    expect(await serving()).toContain("hello v2");
  });

  it("a branch named like a shell injection deploys nothing and runs nothing", async () => {
    for (const ref of ["refs/heads/x;touch /tmp/deploybot-pwned-branch", "refs/heads/$(touch /tmp/deploybot-pwned)"]) {
      const res = await sendPush(stack.controller, { repo: "acme/hello", ref, sha: sha(4) });
      const body = (await res.json()) as any;
      const job = await finished(body.jobs[0].id);
      expect(job.status).toBe("failed");
    }
    for (const file of PWNED) expect(existsSync(file), file).toBe(false);
    expect(await serving()).toContain("hello v2");
  });
});

describe("/v1/ssh routes through the relay", () => {
  it("executes a command and reads metrics from the host", async () => {
    const res = await api(stack.controller, "/v1/ssh/execute", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ host: "ssh-e2e", command: "echo hello from $(hostname) && echo oops >&2 && exit 3" }),
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ exit_code: 3, stderr: "oops\n", truncated: false });
    expect(body.stdout).toMatch(/^hello from \S+\n$/);
    const metrics = (await (await api(stack.controller, "/v1/ssh/metrics/ssh-e2e")).json()) as any;
    expect(metrics.uptime_s).toBeGreaterThan(0);
    expect(metrics.load).toHaveLength(3);
    expect(metrics.memory.total_bytes).toBeGreaterThan(0);
    expect(metrics.disk.length).toBeGreaterThan(0);
    expect(metrics.containers.map((c: any) => c.name)).toContain(stack.container);
  });

  it("refuses a host whose key is not the pinned one", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const put = await api(stack.controller, "/v1/config", { method: "PUT", body: stack.config({ hostKey: other }), headers: { "content-type": "application/yaml" } });
    expect(put.status).toBe(200);
    try {
      const res = await api(stack.controller, "/v1/ssh/execute", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ host: "ssh-e2e", command: "true" }),
      });
      expect(res.status).toBe(502);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe("host_key_mismatch");
      expect(body.error.message).toMatch(/SHA256:/);
    } finally {
      await api(stack.controller, "/v1/config", { method: "PUT", body: stack.config(), headers: { "content-type": "application/yaml" } });
    }
  });
});

describe("ctl ssh", () => {
  const ctl = (...args: string[]) => {
    const cli = new URL("../../cli/dist/cli/src/cli.js", import.meta.url).pathname;
    try {
      const stdout = execFileSync(process.execPath, [cli, ...args], {
        encoding: "utf8",
        env: { ...process.env, DEPLOYBOT_URL: stack.controller.url, DEPLOYBOT_TOKEN: "e2e-admin-token", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      return { code: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(() => {
    execFileSync("npx", ["tsc", "-p", new URL("../../cli", import.meta.url).pathname]);
  });

  it("runs a command and exits with its exit code, and shows metrics", () => {
    expect(ctl("ssh", "exec", "ssh-e2e", "--", "echo", "hi")).toEqual({ code: 0, stdout: "hi\n" });
    expect(ctl("ssh", "exec", "ssh-e2e", "--", "exit 4").code).toBe(4);
    const metrics = ctl("ssh", "metrics", "ssh-e2e");
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/^host\s+\S+\nuptime\s+[\d.]+ h\nload\s+/);
    expect(metrics.stdout).toContain(stack.container);
    expect(JSON.parse(ctl("ssh", "metrics", "ssh-e2e", "--json").stdout)).toMatchObject({ load: expect.any(Array) });
    expect(ctl("ssh", "exec", "nope", "--", "true")).toMatchObject({ code: 1, stderr: expect.stringMatching(/not in apps.yaml \(unknown_host, 404\)/) });
  });
});

describe("what ctl hosts and GET /v1/hosts know about reaching ssh hosts", () => {
  it("shows a host that answers as reachable, and one whose address does not answer as unreachable since then, with the error", async () => {
    const deadPort = await freePort();
    const withDead = stack.config().replace("apps:", `  ssh-dead:\n    mode: ssh\n    ssh: { address: 127.0.0.1, port: ${deadPort}, user: ${stack.sshd.user}, host_key: "${stack.sshd.hostKey.publicKey}" }\napps:`);
    const put = await api(stack.controller, "/v1/config", { method: "PUT", body: withDead, headers: { "content-type": "application/yaml" } });
    expect(put.status).toBe(200);
    try {
      // The relay answers from what it knows and checks hosts it has not tried: ask until both are known.
      let hosts: any[] = [];
      for (let i = 0; i < 100; i++) {
        hosts = ((await (await api(stack.controller, "/v1/hosts")).json()) as any).hosts;
        if (hosts.every((h) => h.reachable !== null)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const byName = Object.fromEntries(hosts.map((h) => [h.name, h]));
      expect(byName["ssh-e2e"]).toMatchObject({ online: true, reachable: true, unreachable_since: null, reach_error: null });
      expect(Date.parse(byName["ssh-e2e"].last_connected_at)).toBeGreaterThan(0);
      expect(byName["ssh-dead"]).toMatchObject({ online: false, reachable: false, last_connected_at: null, reach_error: { code: "connect_failed" } });
      expect(byName["ssh-dead"].reach_error.message).toContain(`127.0.0.1:${deadPort}`);
      expect(Date.now() - Date.parse(byName["ssh-dead"].unreachable_since)).toBeLessThan(60_000);

      const cli = new URL("../../cli/dist/cli/src/cli.js", import.meta.url).pathname;
      const table = execFileSync(process.execPath, [cli, "hosts"], {
        encoding: "utf8",
        env: { ...process.env, DEPLOYBOT_URL: stack.controller.url, DEPLOYBOT_TOKEN: "e2e-admin-token", NO_COLOR: "1" },
      });
      expect(table).toMatch(/^NAME\s+MODE\s+ONLINE\s+HEARTBEAT\s+REACH\s+/);
      expect(table).toMatch(/\nssh-dead\s+ssh\s+no\s+-\s+no since \d+s ago: connect_failed\s/);
      expect(table).toMatch(/\nssh-e2e\s+ssh\s+yes\s+-\s+yes, connected \d+[smh] ago\s/);
    } finally {
      await api(stack.controller, "/v1/config", { method: "PUT", body: stack.config(), headers: { "content-type": "application/yaml" } });
    }
  });
});
