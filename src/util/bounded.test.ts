import { describe, expect, it } from "vitest";
import { mapBounded } from "./bounded";

describe("mapBounded", () => {
  it("keeps at most `limit` calls in flight and returns results in order", async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapBounded([...Array(20).keys()], 3, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return n * 2;
    });
    expect(most).toBe(3);
    expect(results).toEqual([...Array(20).keys()].map((n) => n * 2));
  });

  it("rejects with the first failure once every call settled", async () => {
    const settled: number[] = [];
    await expect(
      mapBounded([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error("two");
        settled.push(n);
        return n;
      }),
    ).rejects.toThrow("two");
    expect(settled).toEqual([1, 3]);
  });
});
