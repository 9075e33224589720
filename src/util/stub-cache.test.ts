import { describe, expect, it } from "vitest";
import { StubCache } from "./stub-cache";

/** A stand-in stub: which name it was opened for, and which opening it is. */
function opener() {
  const opened: string[] = [];
  const open = (name: string) => {
    opened.push(name);
    return { name, serial: opened.length };
  };
  return { opened, open };
}

describe("StubCache", () => {
  it("opens one stub per name and reuses it", async () => {
    const { opened, open } = opener();
    const cache = new StubCache(open);
    const serials = [];
    for (const name of ["a", "b", "a", "a", "b"]) serials.push(await cache.call(name, async (stub) => stub.serial));
    expect(opened).toEqual(["a", "b"]);
    expect(serials).toEqual([1, 2, 1, 1, 2]);
  });

  it("drops a stub whose call threw, and opens a new one for the next call", async () => {
    const { opened, open } = opener();
    const cache = new StubCache(open);
    await cache.call("a", async () => "ok");
    await expect(cache.call("a", async () => Promise.reject(new Error("Network connection lost.")))).rejects.toThrow("Network connection lost.");
    expect(await cache.call("a", async (stub) => stub.serial)).toBe(2);
    expect(opened).toEqual(["a", "a"]);
  });

  it("keeps at most `limit` stubs, dropping the oldest", async () => {
    const { opened, open } = opener();
    const cache = new StubCache(open, 2);
    for (const name of ["a", "b", "c", "b", "a"]) await cache.call(name, async () => undefined);
    // c pushed a out; a's return pushed b out (the oldest then), so b would be opened again.
    expect(opened).toEqual(["a", "b", "c", "a"]);
    await cache.call("b", async () => undefined);
    expect(opened).toEqual(["a", "b", "c", "a", "b"]);
  });
});
