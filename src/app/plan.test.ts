import { describe, expect, it } from "vitest";
import type { Strategy } from "../schemas/rollouts";
import { planWaves } from "./plan";

const hosts = Array.from({ length: 10 }, (_, i) => `host-${String(i + 1).padStart(2, "0")}`);
const strategy = (s: Partial<Strategy>): Strategy => ({ canary: [], batch: null, pause_s: 0, on_failure: "halt", wave_timeout_s: 900, ...s });

describe("planWaves", () => {
  it("puts every host in one wave by default (today's behaviour)", () => {
    expect(planWaves(hosts, strategy({}))).toEqual([hosts]);
  });

  it("sends the canary alone first, then the rest", () => {
    expect(planWaves(hosts, strategy({ canary: ["host-03"] }))).toEqual([["host-03"], hosts.filter((h) => h !== "host-03")]);
  });

  it("batches by count and by share, keeping apps.yaml order", () => {
    expect(planWaves(hosts, strategy({ batch: 2 }))).toEqual([hosts.slice(0, 2), hosts.slice(2, 4), hosts.slice(4, 6), hosts.slice(6, 8), hosts.slice(8, 10)]);
    expect(planWaves(hosts, strategy({ canary: ["host-01"], batch: "25%" }))).toEqual([["host-01"], hosts.slice(1, 3), hosts.slice(3, 5), hosts.slice(5, 7), hosts.slice(7, 9), hosts.slice(9)]);
    expect(planWaves(["a", "b", "c"], strategy({ batch: "10%" }))).toEqual([["a"], ["b"], ["c"]]);
  });

  it("ignores canary hosts the rollout does not cover", () => {
    expect(planWaves(["a", "b"], strategy({ canary: ["z"] }))).toEqual([["a", "b"]]);
  });
});
