import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DEPLOY_STEPS, summarize, type DeployResult, type DeployStep } from "../src/deploy-contract.ts";

interface Scenario {
  name: string;
  end: { outcome: DeployResult["status"]; step: DeployStep; error?: string; restored?: boolean; kept_serving?: boolean; rollback_error?: string };
  summary: string | null;
}

// The same table the .NET agent's DeployVocabularyTests runs (docs/deploy-steps.md).
const table = JSON.parse(readFileSync(new URL("../../test/fixtures/deploy-scenarios.json", import.meta.url), "utf8")) as { steps: string[]; scenarios: Scenario[] };

describe("one deploy vocabulary (test/fixtures/deploy-scenarios.json)", () => {
  it("names the steps as the agent does, in order", () => {
    assert.deepEqual([...DEPLOY_STEPS], table.steps);
  });

  for (const scenario of table.scenarios) {
    it(`job error: ${scenario.name}`, () => {
      const { outcome, step, error, restored = false, kept_serving, rollback_error } = scenario.end;
      const result: DeployResult = {
        status: outcome,
        step,
        // The relay reports a cancel with no error of its own.
        error: outcome === "cancelled" ? null : (error ?? null),
        rolled_back: restored,
        ...(kept_serving !== undefined ? { kept_serving } : {}),
        ...(rollback_error !== undefined ? { rollback_error } : {}),
      };
      assert.equal(summarize(result), scenario.summary);
    });
  }
});
