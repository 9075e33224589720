/**
 * Polls `probe` until it gives a truthy value, and returns it; after `ms`, throws with `what` and the
 * probe's last error. A probe that throws (a controller restarting, a read that races a write) counts
 * as "not yet", so a case fails on its deadline with the reason rather than on the first hiccup.
 */
export async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
