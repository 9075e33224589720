import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, waitForJobEnd } from "../test/e2e/controller.ts";
import { startSshStack, type SshStack } from "../test/e2e/ssh-stack.ts";
import { until } from "../test/e2e/until.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let stack: SshStack;
const sha = (n: number) => n.toString(16).padStart(40, "0");

const finished = (jobId: string) => waitForJobEnd(stack.controller, jobId);
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
/** Containers of the stack's app: name → deploybot.job label. */
const containers = () =>
  Object.fromEntries(
    docker("ps", "-a", "--filter", `name=^${stack.container}`, "--format", '{{.Names}} {{.Label "deploybot.job"}}')
      .split("\n")
      .filter(Boolean)
      .map((row) => row.split(" ") as [string, string]),
  );

async function pushTag(tag: string, n: number): Promise<string> {
  const res = await sendPush(stack.controller, { repo: "acme/hello", ref: `refs/tags/${tag}`, sha: sha(n) });
  expect(res.status).toBe(202);
  return ((await res.json()) as any).jobs[0].id;
}

async function execute(command: string) {
  const res = await api(stack.controller, "/v1/ssh/execute", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ host: "ssh-e2e", command }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  stack = await startSshStack("ssh-fault");
});
afterAll(async () => {
  try {
    docker("rm", "-f", ...Object.keys(containers()));
  } catch {
    // none
  }
  await stack?.dispose();
});

it("the relay killed mid-command", async () => {
  await report.verify(
    {
      title: "ssh-relay killed mid-command",
      did: "Started `sleep 30` through POST /v1/ssh/execute, killed the relay (kill -9) a second later, tried again while it was down, then started it again.",
      must: "The caller gets a clear 502 naming the relay (no hang, no 500); while the relay is down the same; once it is back, commands work again.",
    },
    async () => {
      const slow = execute("sleep 30; echo done");
      await new Promise((r) => setTimeout(r, 1000));
      const killedAt = Date.now();
      await stack.relay.kill();
      const cut = await slow;
      const answeredIn = Date.now() - killedAt;
      expect(cut.status).toBe(502);
      const down = await execute("true");
      expect(down.status).toBe(502);
      expect(down.body.error.code).toBe("relay_unavailable");
      await stack.relay.start();
      const back = await execute("echo back");
      expect(back).toMatchObject({ status: 200, body: { exit_code: 0, stdout: "back\n" } });
      return `the cut command answered 502 ${cut.body.error.code} ${answeredIn} ms after the kill ("${cut.body.error.message}"); while down: 502 relay_unavailable; after a restart commands ran again.`;
    },
  );
});

it("sshd stopped", async () => {
  await report.verify(
    {
      title: "sshd stopped on the target",
      did: "Stopped the target's sshd (listener and sessions), then sent POST /v1/ssh/execute and a push for the ssh host; then started sshd again.",
      must: "execute answers 502 with a clear connection error; the deploy job ends failed (after its retry) with the reason, never hangs running; with sshd back, both work.",
    },
    async () => {
      await stack.sshd.stop();
      const refused = await execute("true");
      expect(refused.status).toBe(502);
      expect(refused.body.error.code).toMatch(/connect_failed|ssh_error/);
      const push = await sendPush(stack.controller, { repo: "acme/hello", ref: "refs/tags/v1", sha: sha(10) });
      const jobId = ((await push.json()) as any).jobs[0].id;
      const job = await finished(jobId);
      expect(job.status).toBe("failed");
      expect(job.error).toMatch(/connect|ssh/i);
      await stack.sshd.start(stack.sshd.port);
      const back = await execute("echo back");
      expect(back).toMatchObject({ status: 200, body: { stdout: "back\n" } });
      return `execute answered 502 ${refused.body.error.code} ("${refused.body.error.message}"); the job ended failed on attempt ${job.attempt} with "${job.error}"; after sshd came back, execute worked.`;
    },
  );
});

it("the relay killed mid-deploy", async () => {
  await report.verify(
    {
      title: "ssh-relay killed mid-deploy",
      did: "Deployed v1 over SSH, pushed the broken tag, and killed the relay (kill -9) once the new container was started and v1 parked; started the relay again and pushed v2.",
      must: "The cut job ends failed (never running forever, never succeeded); the next deploy undoes the interrupted one (removes its container, gives the parked v1 its name back) and goes ahead: v2 serves and no parked container is left.",
    },
    async () => {
      expect(await finished(await pushTag("v1", 20))).toMatchObject({ status: "succeeded" });
      const cut = await pushTag("broken", 21);
      await until("the broken container started with v1 parked", () => {
        const now = containers();
        return now[stack.container] === cut && now[`${stack.container}-previous-${cut}`] !== undefined;
      });
      await stack.relay.kill();
      const cutJob = await finished(cut);
      expect(cutJob.status).toBe("failed");
      const left = containers();
      expect(left).toMatchObject({ [stack.container]: cut, [`${stack.container}-previous-${cut}`]: expect.any(String) });

      await stack.relay.start();
      const next = await pushTag("v2", 22);
      const nextJob = await finished(next);
      expect(nextJob.status).toBe("succeeded");
      expect(await (await fetch(`http://127.0.0.1:${stack.appPort}/`)).text()).toContain("hello v2");
      expect(containers()).toEqual({ [stack.container]: next });
      const logs = (await (await api(stack.controller, `/v1/jobs/${next}/logs`)).json()) as any;
      const text = JSON.stringify(logs);
      expect(text).toContain(`the deploy of job ${cut} was interrupted`);
      return `the cut job ended failed on attempt ${cutJob.attempt} ("${cutJob.error}"), leaving ${Object.keys(left).join(" and ")}; the next push's job undid that (its log says so) and succeeded: v2 serves, one container left.`;
    },
  );
});
