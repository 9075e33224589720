import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock";

describe("FakeClock", () => {
  it("moves only when told, and fires due timers in time order at their own times", () => {
    const clock = new FakeClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.timer(300, () => fired.push(["b", clock.now()]));
    clock.timer(100, () => fired.push(["a", clock.now()]));
    const cancel = clock.timer(200, () => fired.push(["cancelled", clock.now()]));
    cancel();
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(fired).toEqual([["a", 1_100]]);
    expect(clock.now()).toBe(1_250);
    clock.advance(1_000);
    expect(fired).toEqual([["a", 1_100], ["b", 1_300]]);
    expect(clock.now()).toBe(2_250);
  });
});
