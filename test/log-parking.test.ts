import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_PARKED_BYTES, MAX_SEQ_AHEAD } from "../src/host/log-parking";
import { systemClock } from "../src/host/clock";
import { LogBatchRefused, LogStore, type IncomingLine } from "../src/host/logs";

let objects = 0;

/** A LogStore on a fresh object's real SQLite, with a count of the rows its queries read. */
async function withStore(test: (store: LogStore, rowsRead: () => number) => void): Promise<void> {
  const stub = env.HOST_QUEUE.get(env.HOST_QUEUE.idFromName(`log-parking-${++objects}`));
  await runInDurableObject(stub, (_instance, state) => {
    const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
    const sql = new Proxy(state.storage.sql, {
      get(target, key) {
        if (key !== "exec") return Reflect.get(target, key);
        return (query: string, ...bindings: unknown[]) => {
          const cursor = target.exec(query, ...bindings);
          cursors.push(cursor);
          return cursor;
        };
      },
    });
    const store = new LogStore(sql, systemClock);
    const baseline = () => cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
    test(store, baseline);
  });
}

const line = (seq: number, text = `line ${seq}`): IncomingLine => ({ seq, ts: "2026-12-04T00:00:00Z", stream: "stdout", text });
const range = (from: number, to: number, text?: string) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i, text));

function refusal(run: () => unknown): LogBatchRefused {
  try {
    run();
  } catch (err) {
    if (err instanceof LogBatchRefused) return err;
    throw err;
  }
  throw new Error("the batch was taken");
}

describe("lines parked behind a missing seq", () => {
  it("still come out in seq order, once, when the gap fills", async () => {
    await withStore((store) => {
      expect(store.append("j", 1, [line(3), line(4), line(1)], [])).toHaveLength(1);
      expect(store.append("j", 1, [line(4)], [])).toEqual([]);
      const released = store.append("j", 1, [line(2), line(3)], []);
      expect(released.map((l) => l.seq)).toEqual([2, 3, 4]);
      expect(store.read("j", 0, 100).map((l) => l.seq)).toEqual([1, 2, 3, 4]);
      expect(store.append("j", 1, [line(5)], []).map((l) => l.seq)).toEqual([5]);
    });
  });

  it("refuses with 422 a line too far ahead of the gap, and keeps nothing of its batch", async () => {
    await withStore((store) => {
      store.append("j", 1, [line(1)], []);
      const err = refusal(() => store.append("j", 1, [line(3), line(2 + MAX_SEQ_AHEAD)], []));
      expect({ status: err.status, code: err.code }).toEqual({ status: 422, code: "log_seq_too_far_ahead" });
      expect(store.append("j", 1, [line(2)], []).map((l) => l.seq)).toEqual([2]);
      expect(store.close("j", 1)).toEqual([]);
    });
  });

  it("counts parked text against the limits when it is parked: 413 past the parking's size", async () => {
    await withStore((store) => {
      const big = "x".repeat(16 * 1024);
      const fits = Math.floor(MAX_PARKED_BYTES / big.length);
      store.append("j", 1, range(2, fits + 1, big), []);
      const err = refusal(() => store.append("j", 1, range(fits + 2, fits + 3, big), []));
      expect({ status: err.status, code: err.code }).toEqual({ status: 413, code: "log_parking_full" });
      // The gap filled, the parking drains, and there is room again.
      expect(store.append("j", 1, [line(1)], [])).toHaveLength(fits + 1);
      expect(store.append("j", 1, range(fits + 3, fits + 4, big), [])).toEqual([]);
    });
  });

  it("costs a release what it releases, not every parked row", async () => {
    await withStore((store, rowsRead) => {
      store.append("j", 1, range(10, 5_009), []);
      const before = rowsRead();
      expect(store.append("j", 1, [line(1)], [])).toHaveLength(1);
      const cost = rowsRead() - before;
      expect(cost).toBeLessThan(10);
      expect(store.append("j", 1, range(2, 9), []).map((l) => l.seq)).toEqual(Array.from({ length: 5_008 }, (_, i) => i + 2));
    });
  });

  it("marks the gap at the end of the attempt and forgets the parking", async () => {
    await withStore((store) => {
      store.append("j", 1, [line(1), line(4)], []);
      const tail = store.close("j", 1);
      expect(tail.map((l) => l.text)).toEqual(["[deploybot] 2 line(s) never arrived (seq 2-3)", "line 4"]);
      store.append("j", 2, [line(3)], []);
      expect(store.close("j", 2).map((l) => l.text)).toEqual(["[deploybot] 2 line(s) never arrived (seq 1-2)", "line 3"]);
    });
  });
});
