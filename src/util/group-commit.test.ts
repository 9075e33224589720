import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit";

/** A run that waits until the test lets it finish. */
function gatedRuns() {
  const runs: number[][] = [];
  const gates: Array<() => void> = [];
  let failNext: Error | null = null;
  const group = new GroupCommit<number>(async (items) => {
    runs.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext) {
      const error = failNext;
      failNext = null;
      throw error;
    }
  });
  const open = async () => {
    await Promise.resolve();
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { group, runs, open, fail: (error: Error) => (failNext = error) };
}

describe("GroupCommit", () => {
  it("runs a lone item at once", async () => {
    const { group, runs, open } = gatedRuns();
    const done = group.add([1]);
    expect(runs).toEqual([[1]]);
    await open();
    await expect(done).resolves.toBeUndefined();
  });

  it("takes every item handed in during a run into one next run, in order", async () => {
    const { group, runs, open } = gatedRuns();
    const settled: number[] = [];
    const first = group.add([1]).then(() => settled.push(1));
    const later = [group.add([2, 3]), group.add([4]), group.add([5])].map((p, i) => p.then(() => settled.push(i + 2)));
    expect(runs).toEqual([[1]]);
    await open();
    expect(settled).toEqual([1]);
    expect(runs).toEqual([[1], [2, 3, 4, 5]]);
    await open();
    await Promise.all([first, ...later]);
    expect(settled).toEqual([1, 2, 3, 4]);
    expect(runs).toHaveLength(2);
  });

  it("rejects only the callers whose run failed; the next run goes on", async () => {
    const { group, runs, open, fail } = gatedRuns();
    const first = group.add([1]);
    const second = group.add([2]);
    const third = group.add([3]);
    fail(new Error("storage down"));
    const firstFails = expect(first).rejects.toThrow("storage down");
    await open();
    await firstFails;
    expect(runs).toEqual([[1], [2, 3]]);
    await open();
    await expect(Promise.all([second, third])).resolves.toEqual([undefined, undefined]);
    const fourth = group.add([4]);
    expect(runs).toEqual([[1], [2, 3], [4]]);
    await open();
    await expect(fourth).resolves.toBeUndefined();
  });

  it("with gather, waits one timer turn before its first run, so items handed in meanwhile join it", async () => {
    const runs: number[][] = [];
    const group = new GroupCommit<number>(async (items) => void runs.push(items), { gather: true });
    const first = group.add([1]);
    await Promise.resolve();
    const second = group.add([2, 3]);
    expect(runs).toEqual([]);
    await Promise.all([first, second]);
    expect(runs).toEqual([[1, 2, 3]]);
    await group.add([4]);
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });
});
