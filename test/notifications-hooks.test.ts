import { describe, expect, it } from "vitest";
import { recordingSql } from "./helpers";
import { appOf, githubEnv, PUBLIC_URL, received, snapshot, withRoom } from "./notify-helpers";

const notify = (path: string, events: string, extra = "") =>
  `    notify:\n      - { url: "http://hooks.test${path}", events: [${events}], secret: NOTIFY_TEST_SECRET${extra} }\n`;

describe("notify: webhooks from the Notifications room", () => {
  it("a receiver that fails twice sees each event once, in order, signed", async () => {
    const path = "/fail2/ordered";
    const app = appOf("acme-hooks/web", notify(path, "job.started, job.succeeded, job.failed"));
    await withRoom("hooks-order", githubEnv({}), async ({ room, clock }) => {
      const id = "host-01.job-h";
      for (const status of ["queued", "running", "failed"] as const) room.jobChanged(snapshot(id, status), "web", app, clock.now());
      room.jobChanged(snapshot(id, "failed"), "web", app, clock.now()); // a repeat of the same transition
      await room.flush();
      clock.advance(1_000);
      await room.flush();
      expect((await received(path)).seen).toEqual([]);
      clock.advance(2_000);
      await room.flush();

      const { seen, attempts } = await received(path);
      expect(attempts).toBe(4); // two refused, then the two events
      expect(seen.map((s) => s.event)).toEqual(["job.started", "job.failed"]);
      expect(seen.every((s) => s.verified)).toBe(true);
      expect(new Set(seen.map((s) => s.delivery)).size).toBe(2);
      expect(seen[1]!.payload).toMatchObject({ id: seen[1]!.delivery, event: "job.failed", app: "web", url: `${PUBLIC_URL}/#/jobs/${id}`, job: { id, status: "failed", error: "health: /up answered 503" } });
      expect(room.hasWork()).toBe(false);
    });
  });

  it("a wave's snapshots told at once send what one at a time would, in order, reading and writing what was told once", async () => {
    const path = "/batch/wave";
    const app = appOf("acme-batch/web", notify(path, "job.started, job.succeeded, job.failed"));
    await withRoom("hooks-batch", githubEnv({}), async ({ room, clock, sql }) => {
      const [a, b, c] = ["host-01.job-b1", "host-02.job-b2", "host-03.job-b3"];
      room.jobChanged(snapshot(a, "running"), "web", app, clock.now());
      const recording = recordingSql(sql);
      try {
        room.jobsChanged(
          [
            snapshot(a, "running"), // told already: a newer version of the same status tells nothing
            snapshot(b, "running"),
            snapshot(b, "failed"),
            snapshot(c, "queued"),
            snapshot(a, "succeeded"),
          ].map((job) => ({ job, appName: "web", app })),
          clock.now(),
        );
      } finally {
        recording.stop();
      }
      expect(recording.ran.filter(({ query }) => /notify_seen/.test(query))).toHaveLength(2);
      room.jobChanged(snapshot(b, "failed"), "web", app, clock.now()); // a repeat after the batch
      await room.flush();

      const { seen } = await received(path);
      expect(seen.map((s) => [s.event, s.payload.job.id])).toEqual([
        ["job.started", a],
        ["job.started", b],
        ["job.failed", b],
        ["job.succeeded", a],
      ]);
    });
  });

  it("a Slack URL gets an incoming-webhook message; a URL that did not ask for an event gets nothing", async () => {
    const app = appOf("acme-slack/web", `    notify:
      - { url: "http://hooks.test/slack", format: slack, events: [job.succeeded] }
      - { url: "http://hooks.test/only-failures", events: [job.failed] }
`);
    await withRoom("hooks-slack", githubEnv({}), async ({ room, clock }) => {
      room.jobChanged(snapshot("host-01.job-s", "succeeded"), "web", app, clock.now());
      await room.flush();
      const { seen } = await received("/slack");
      expect(seen).toHaveLength(1);
      expect(seen[0]!.payload).toEqual({ text: expect.stringMatching(/^DeployBot · web on host-01: job.succeeded \(6113728, refs\/heads\/main\) <https:\/\/deploybot.example\/#\/jobs\/host-01.job-s\|details>$/) });
      expect((await received("/only-failures")).attempts).toBe(0);
    });
  });

  it("test() sends a test event to every URL and returns its delivery ids", async () => {
    const app = appOf("acme-test/web", notify("/test-event", "rollout.failed"));
    await withRoom("hooks-test", githubEnv({}), async ({ room, clock }) => {
      const ids = room.test("web", app, clock.now());
      await room.flush();
      const { seen } = await received("/test-event");
      expect(seen.map((s) => [s.delivery, s.event, s.verified])).toEqual([[ids[0], "test", true]]);
    });
  });

  it("a secret that is not set keeps the event back (retried) rather than sending it unsigned", async () => {
    const app = appOf("acme-nosecret/web", `    notify:\n      - { url: "http://hooks.test/nosecret", events: [job.started], secret: NOTIFY_NOT_SET }\n`);
    await withRoom("hooks-nosecret", githubEnv({}), async ({ room, clock }) => {
      room.jobChanged(snapshot("host-01.job-n", "running"), "web", app, clock.now());
      await room.flush();
      expect(room.hasWork()).toBe(true);
      expect((await received("/nosecret")).attempts).toBe(0);
    });
  });
});
