import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { issueTicket } from "../src/stream-ticket";
import fixture from "./fixtures/apps.test.yaml";
import { call, callJson, putConfig, sendWebhook, sha } from "./helpers";

let jobs: Record<string, string> = {};

beforeAll(async () => {
  expect((await putConfig(fixture)).status).toBe(200);
  const res = await sendWebhook("push", { ref: "refs/heads/master", after: sha(9100), repository: { full_name: "Codertocat/Hello-World" } });
  const body = (await res.json()) as { jobs: Array<{ id: string; host: string }> };
  jobs = Object.fromEntries(body.jobs.map((j) => [j.host, j.id]));
  expect(Object.keys(jobs).sort()).toEqual(["host-01", "host-02"]);
});

const ticketFor = (body: unknown) => callJson("/v1/logs/tickets", { method: "POST", body: JSON.stringify(body) });
/** Opens the stream with no Authorization header: the URL is all the browser has. */
const stream = (query: string) => call(`/v1/logs/stream?${query}`, { token: null });

async function firstEvent(res: Response): Promise<string> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/event: status/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text;
}

describe("stream tickets", () => {
  it("open their job's stream without the API token, for a minute", async () => {
    const issued = await ticketFor({ job_id: jobs["host-01"] });
    expect(issued.status).toBe(201);
    expect(issued.body).toEqual({ ticket: expect.any(String), expires_at: expect.any(String) });
    const lifetime = Date.parse(issued.body.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(55_000);
    expect(lifetime).toBeLessThanOrEqual(60_000);
    expect(issued.body.ticket).not.toContain(env.DEPLOYBOT_API_TOKENS);

    const res = await stream(`job_id=${jobs["host-01"]}&ticket=${encodeURIComponent(issued.body.ticket)}`);
    expect(res.status).toBe(200);
    expect(await firstEvent(res)).toContain(jobs["host-01"]);
  });

  it("do not open another job's stream, nor a host's (403)", async () => {
    const { body } = await ticketFor({ job_id: jobs["host-01"] });
    const ticket = encodeURIComponent(body.ticket);
    const other = await stream(`job_id=${jobs["host-02"]}&ticket=${ticket}`);
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).error.message).toContain(jobs["host-01"]);
    expect((await stream(`host=host-01&ticket=${ticket}`)).status).toBe(403);
    expect((await stream(`rollout_id=${jobs["host-01"]}&ticket=${ticket}`)).status).toBe(403);
  });

  it("are refused once expired, or when tampered with (401)", async () => {
    const expired = await issueTicket(env.DEPLOYBOT_API_TOKENS, { kind: "job", id: jobs["host-01"]! }, Date.now() - 61_000);
    const late = await stream(`job_id=${jobs["host-01"]}&ticket=${encodeURIComponent(expired.ticket)}`);
    expect(late.status).toBe(401);
    expect(((await late.json()) as any).error.message).toBe("stream ticket expired");

    const forged = await issueTicket("some-other-key", { kind: "job", id: jobs["host-01"]! });
    expect((await stream(`job_id=${jobs["host-01"]}&ticket=${encodeURIComponent(forged.ticket)}`)).status).toBe(401);
    expect((await stream(`job_id=${jobs["host-01"]}&ticket=nonsense`)).status).toBe(401);
  });

  it("need the API token to be issued, and exactly one of job_id or rollout_id", async () => {
    expect((await callJson("/v1/logs/tickets", { method: "POST", token: null, body: JSON.stringify({ job_id: "x" }) })).status).toBe(401);
    expect((await ticketFor({})).status).toBe(400);
    expect((await ticketFor({ job_id: "a", rollout_id: "b" })).status).toBe(400);
    expect((await ticketFor({ rollout_id: "r" })).status).toBe(201);
  });

  it("leave access_token working for compatibility", async () => {
    const res = await stream(`job_id=${jobs["host-02"]}&access_token=${env.DEPLOYBOT_API_TOKENS.split(",")[0]}`);
    expect(res.status).toBe(200);
    expect(await firstEvent(res)).toContain(jobs["host-02"]);
  });
});
