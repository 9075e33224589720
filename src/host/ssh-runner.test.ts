import { describe, expect, it } from "vitest";
import type { IncomingLine } from "./logs";
import { logBatcher } from "./ssh-runner";

const line = (seq: number): IncomingLine => ({ seq, ts: "2026-12-04T08:00:00.000Z", stream: "stdout", text: `line ${seq}` });

describe("logBatcher", () => {
  it("hands over the lines that arrive while a write is in flight as one batch, in order, and waits for all", async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const log = logBatcher({
      logs: async (lines) => {
        batches.push(lines.map((l) => l.seq));
        await new Promise<void>((resolve) => (release = resolve));
      },
    });
    log.add(line(1));
    for (let seq = 2; seq <= 5; seq++) log.add(line(seq));
    const done = log.written();
    for (let i = 0; i < 5; i++) {
      release();
      await new Promise((r) => setTimeout(r, 0));
    }
    await done;
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it("throws the first failed write from written() and from the next add, writing nothing more", async () => {
    const batches: number[][] = [];
    const log = logBatcher({
      logs: async (lines) => {
        batches.push(lines.map((l) => l.seq));
        throw new Error("log_parking_full");
      },
    });
    log.add(line(1));
    log.add(line(2));
    await expect(log.written()).rejects.toThrow("log_parking_full");
    expect(() => log.add(line(3))).toThrow("log_parking_full");
    expect(batches).toEqual([[1]]);
  });
});
