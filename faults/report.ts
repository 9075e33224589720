import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, expect } from "vitest";

/** One fault case as RELIABILITY.md states it. */
export interface FaultCase {
  title: string;
  did: string;
  must: string;
  saw: string;
}

const OUT = join(process.cwd(), ".test-out", "faults");

/**
 * Collects the cases of one fault file and writes them (with pass/fail) when
 * the file ends; scripts/faults.mjs turns them into RELIABILITY.md.
 */
export function faultReport(file: string) {
  const cases: Array<FaultCase & { held: boolean }> = [];
  afterAll(() => {
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, `${basename(file)}.json`), JSON.stringify(cases, null, 2));
  });
  return {
    /** Records a case; `held` is whether every `must` assertion passed (the test's assertions decide). */
    record(entry: FaultCase, held = true) {
      cases.push({ ...entry, held });
    },
    /** Runs `check` (the assertions), recording the case as held or broken either way. */
    async verify(entry: Omit<FaultCase, "saw">, check: () => Promise<string>) {
      try {
        const saw = await check();
        cases.push({ ...entry, saw, held: true });
      } catch (err) {
        cases.push({ ...entry, saw: `BROKEN: ${(err as Error).message.split("\n")[0]}`, held: false });
        throw err;
      }
    },
  };
}

export { expect };
