import { describe, expect, it } from "vitest";
import { mapBounded } from "./bounded";

describe("mapBounded", () => {
  it("never has more than `limit` calls in flight, and keeps the order of its input", async () => {
    let running = 0;
    let most = 0;
    const out = await mapBounded(
      Array.from({ length: 500 }, (_, i) => i),
      async (n) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, n % 3));
        running -= 1;
        return n * 2;
      },
      50,
    );
    expect(most).toBe(50);
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
  });

  it("rejects with the first failure, and answers [] for no items", async () => {
    await expect(mapBounded([1, 2, 3], async (n) => { if (n === 2) throw new Error("two"); return n; })).rejects.toThrow("two");
    expect(await mapBounded([], async () => 1)).toEqual([]);
  });
});
