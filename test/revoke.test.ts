import { beforeAll, describe, expect, it } from "vitest";
import fixture from "./fixtures/apps.test.yaml";
import { ADMIN, call, callJson, ENROLL, hostStub, putConfig, scriptedAgent, sendWebhook, settleHistory, sha } from "./helpers";

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
});

let pushes = 0;
/** A push of Hello-World's master: the id of its job on host-02. */
async function push(): Promise<string> {
  const res = await sendWebhook("push", { ref: "refs/heads/master", after: sha(7000 + ++pushes), repository: { full_name: "Codertocat/Hello-World" } });
  const body = (await res.json()) as any;
  return body.jobs.find((j: any) => j.host === "host-02").id;
}

const revoke = (agentId: string, token: string | null = ADMIN) => callJson(`/v1/agents/${agentId}`, { method: "DELETE", token });

describe("DELETE /v1/agents/{id}", () => {
  it("refuses the agent at once, ends the job it runs, and lets the machine register again", async () => {
    const agent = await scriptedAgent("host-02");
    const jobId = await push();
    const beat = await agent.heartbeat();
    expect(beat.body.job?.id).toBe(jobId);
    expect((await agent.status(jobId, { status: "running" })).status).toBe(200);

    const revoked = await revoke(agent.id);

    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ agent_id: agent.id, hostname: "host-02", revoked_at: expect.any(String), failed_jobs: [jobId] });
    const refused = [
      await agent.heartbeat(jobId),
      await agent.status(jobId, { status: "succeeded", exit_code: 0 }),
      await agent.logs(jobId, [{ seq: 1, text: "still here" }]),
    ];
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 401, body: { error: { code: "agent_revoked", message: expect.stringContaining("new agent") } } });
    }
    await settleHistory("host-02");
    const job = await callJson(`/v1/jobs/${jobId}`);
    expect(job.body).toMatchObject({ status: "failed", error: "agent_revoked" });
    const host = (await callJson("/v1/hosts")).body.hosts.find((h: any) => h.name === "host-02");
    expect(host.agent_id).not.toBe(agent.id);

    const again = await scriptedAgent("host-02");
    const next = await push();
    expect((await again.heartbeat()).body.job?.id).toBe(next);
    await again.status(next, { status: "succeeded", exit_code: 0 });
  });

  it("ends the agent's held long poll with 401", async () => {
    const agent = await scriptedAgent("host-02");
    const polling = agent.heartbeat(null, 20);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();

    expect((await revoke(agent.id)).status).toBe(200);

    const answer = await polling;
    expect(answer).toMatchObject({ status: 401, body: { error: { code: "agent_revoked" } } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("closes the agent's push channel and refuses a new one", async () => {
    const agent = await scriptedAgent("host-02");
    const res = await call(`/v1/agents/${agent.id}/connect`, { token: agent.token, headers: { upgrade: "websocket" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));

    expect((await revoke(agent.id)).status).toBe(200);

    expect(await closed).toBe(4401);
    const again = await call(`/v1/agents/${agent.id}/connect`, { token: agent.token, headers: { upgrade: "websocket" } });
    expect(again.status).toBe(401);
  });

  it("is refused by the host's object even where a Worker still trusts the token", async () => {
    // Another isolate may have verified the agent before the revoke and cached it for a minute:
    // the host's object, which every agent call reaches, refuses it regardless.
    const agent = await scriptedAgent("host-02");
    const jobId = await push();
    expect((await agent.heartbeat()).body.job?.id).toBe(jobId);
    expect((await revoke(agent.id)).status).toBe(200);
    const stub = hostStub("host-02");

    expect(await stub.heartbeat(agent.id, { runningJobId: jobId })).toEqual({ job: null, cancel: [], revoked: true });
    expect(await stub.report(agent.id, jobId, { status: "succeeded", exit_code: 0 })).toEqual({ outcome: "revoked" });
    expect(await stub.appendLogs(agent.id, jobId, [{ seq: 1, ts: new Date().toISOString(), stream: "stdout", text: "x" }])).toEqual({ outcome: "revoked" });
  });

  it("refuses a registration that names the revoked agent as its previous identity", async () => {
    const agent = await scriptedAgent("host-02");
    expect((await revoke(agent.id)).status).toBe(200);
    const register = (previous_agent_id?: string) =>
      callJson("/v1/agents/register", { method: "POST", token: ENROLL, body: JSON.stringify({ hostname: "host-02", version: "test", previous_agent_id }) });

    expect(await register(agent.id)).toMatchObject({ status: 403, body: { error: { code: "agent_revoked" } } });
    expect((await register()).status).toBe(201);
  });

  it("keeps the first revoke time, answers 404 for an unknown agent, and takes only an API token", async () => {
    const agent = await scriptedAgent("host-02");
    const first = await revoke(agent.id);
    const second = await revoke(agent.id);
    expect(second).toMatchObject({ status: 200, body: { revoked_at: first.body.revoked_at, failed_jobs: [] } });

    expect(await revoke("no-such-agent")).toMatchObject({ status: 404, body: { error: { code: "agent_not_found" } } });
    const other = await scriptedAgent("host-02");
    expect((await revoke(other.id, other.token)).status).toBe(401);
    expect((await revoke(other.id, null)).status).toBe(401);
    expect((await other.heartbeat()).status).toBe(200);
  });
});
