import { afterAll, beforeAll, expect, it } from "vitest";
import { api, sendPush, waitForJobEnd } from "../test/e2e/controller.ts";
import { startSshStack, type SshStack } from "../test/e2e/ssh-stack.ts";
import { faultReport } from "./report.ts";

const report = faultReport(import.meta.filename);
let stack: SshStack;
const sha = (n: number) => n.toString(16).padStart(40, "0");

const finished = (jobId: string) => waitForJobEnd(stack.controller, jobId);

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
