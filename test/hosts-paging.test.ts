import { beforeAll, describe, expect, it } from "vitest";
import { callJson, putConfig } from "./helpers";

const HOSTS = 130;
// Every host object on a page wakes for the first time here: generous timeouts on a loaded machine.
const SLOW = 60_000;
const names = Array.from({ length: HOSTS }, (_, i) => `p-${String(i).padStart(3, "0")}`);

beforeAll(async () => {
  const yaml = `version: 1\nhosts:\n${names.map((n) => `  ${n}: { mode: agent }`).join("\n")}\napps: {}\n`;
  const res = await putConfig(yaml);
  expect(res.status).toBe(200);
  await res.text();
});

describe("GET /v1/hosts pages", () => {
  it("answers 100 hosts by default, in name order, with a cursor to the rest and the total", async () => {
    const { status, body } = await callJson("/v1/hosts");
    expect(status).toBe(200);
    expect(body.total).toBe(HOSTS);
    expect(body.hosts.map((h: any) => h.name)).toEqual(names.slice(0, 100));
    expect(body.next_cursor).toBe(names[99]);
    expect(body.hosts[0]).toMatchObject({ mode: "agent", online: false, queued: 0, running_job_id: null });
  }, SLOW);

  it("walks every host exactly once by following next_cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=45&cursor=${encodeURIComponent(cursor)}` : "?limit=45";
      const { body } = await callJson(`/v1/hosts${query}`);
      seen.push(...body.hosts.map((h: any) => h.name));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(names);
  }, SLOW);

  it("answers an empty last page for a cursor past the end, and 400 for a limit over 500", async () => {
    expect((await callJson("/v1/hosts?cursor=zzz")).body).toEqual({ hosts: [], next_cursor: null, total: HOSTS });
    expect((await callJson("/v1/hosts?limit=501")).status).toBe(400);
  }, SLOW);
});
