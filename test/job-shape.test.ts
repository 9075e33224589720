import { runInDurableObject } from "cloudflare:test";
import { getTableColumns } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Job as CliJob } from "../cli/src/lib/job";
import type { Rollout as CliRollout } from "../cli/src/lib/rollout-shape";
import { jobs } from "../src/db/schema";
import type { Same } from "../src/schemas/common";
import { JOB_KEYS, type Job } from "../src/schemas/jobs";
import type { Rollout } from "../src/schemas/rollouts";
import { hostStub } from "./helpers";

// One definition of a job's shape, JobSchema; every other form is checked against it.
const cliJobMatches: Same<CliJob, Job> = true;
const cliRolloutMatches: Same<CliRollout, Rollout> = true;

describe("the Job shape", () => {
  it("ctl's Job and Rollout are the API's (a compile-time check; this only keeps it referenced)", () => {
    expect(cliJobMatches).toBe(true);
    expect(cliRolloutMatches).toBe(true);
  });

  it("D1's jobs table has exactly the snapshot's columns", () => {
    expect(Object.keys(getTableColumns(jobs)).sort()).toEqual([...JOB_KEYS, "delivery_id", "version"].sort());
  });

  it("the host object's jobs table has every snapshot column", async () => {
    const columns = await runInDurableObject(hostStub("shape-check"), (_instance, state) =>
      state.storage.sql.exec<{ name: string }>("PRAGMA table_info(jobs)").toArray().map((c) => c.name),
    );
    for (const key of [...JOB_KEYS, "delivery_id", "version"]) expect(columns).toContain(key);
  });
});
