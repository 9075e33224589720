import { beforeAll, describe, expect, it } from "vitest";
import fixture from "./fixtures/apps.test.yaml";
import { call, callJson, hostStub, putConfig, scriptedAgent, sendWebhook, sha } from "./helpers";

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

/** Opens the agent's push channel through the Worker and collects its messages. */
async function connect(agentId: string, token: string) {
  const res = await call(`/v1/agents/${agentId}/connect`, { token, headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const inbox: any[] = [];
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (e) => {
    inbox.push(JSON.parse(e.data as string));
    waiters.splice(0).forEach((w) => w());
  });
  return {
    ws,
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    async next(type?: string, timeoutMs = 5000): Promise<any> {
      for (;;) {
        const index = inbox.findIndex((m) => !type || m.type === type);
        if (index >= 0) return inbox.splice(index, 1)[0];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${type ?? "message"} within ${timeoutMs} ms`)), timeoutMs);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

let pushes = 0;
const push = () => sendWebhook("push", { ref: "refs/heads/master", after: sha(5000 + ++pushes), repository: { full_name: "Codertocat/Hello-World" } });

describe("agent push channel (WebSocket)", () => {
  it("answers heartbeats and pushes a job the moment it is queued", async () => {
    const agent = await scriptedAgent("host-02");
    const channel = await connect(agent.id, agent.token);
    channel.send({ type: "heartbeat", running_job_id: null });
    expect(await channel.next("heartbeat")).toEqual({ type: "heartbeat", job: null, cancel: [] });

    const hook = (await (await push()).json()) as any;
    const pushed = await channel.next("job");
    expect(pushed.job).toMatchObject({ id: hook.jobs.find((j: any) => j.host === "host-02").id, status: "running", agent_id: agent.id });
    expect(pushed.job.deploy.container).toBe("hello");

    // Heartbeats over the socket renew the lease; HTTP reports still work; a cancel is pushed.
    channel.send({ type: "heartbeat", running_job_id: pushed.job.id });
    expect(await channel.next("heartbeat")).toMatchObject({ job: null, cancel: [] });
    await agent.status(pushed.job.id, { status: "running" });
    const { settleHistory } = await import("./helpers");
    await settleHistory("host-02");
    expect((await callJson(`/v1/jobs/${pushed.job.id}/cancel`, { method: "POST" })).status).toBe(202);
    expect(await channel.next("cancel")).toEqual({ type: "cancel", cancel: [pushed.job.id] });
    expect((await agent.status(pushed.job.id, { status: "failed", error: "cancelled" })).body.status).toBe("cancelled");

    // The host is free again: the next queued job is pushed without being asked.
    await push();
    expect((await channel.next("job")).job.status).toBe("running");
    channel.ws.close(1000, "done");
  });

  it("gives a job to only one of several connected agents", async () => {
    for (const job of await hostStub("host-01").queued()) await hostStub("host-01").cancel(job.id);
    const agents = await Promise.all([1, 2, 3].map(() => scriptedAgent("host-01")));
    const channels = await Promise.all(agents.map((a) => connect(a.id, a.token)));
    for (const c of channels) {
      c.send({ type: "heartbeat", running_job_id: null });
      expect((await c.next("heartbeat")).job).toBeNull();
    }
    await push();
    const got = await Promise.all(channels.map((c) => c.next("job", 1500).then((m) => m.job.id, () => null)));
    expect(got.filter(Boolean)).toHaveLength(1);
    channels.forEach((c) => c.ws.close(1000, "done"));
  });

  it("refuses another agent's channel, a missing token, and a plain request", async () => {
    const a = await scriptedAgent("host-01");
    const b = await scriptedAgent("host-01");
    expect((await call(`/v1/agents/${a.id}/connect`, { token: b.token, headers: { upgrade: "websocket" } })).status).toBe(403);
    expect((await call(`/v1/agents/${a.id}/connect`, { token: null, headers: { upgrade: "websocket" } })).status).toBe(401);
    const plain = await call(`/v1/agents/${a.id}/connect`, { token: a.token });
    expect(plain.status).toBe(426);
    await plain.body?.cancel();
  });
});
