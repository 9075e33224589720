import type { RolloutConfig } from "../config/rollout";
import type { Strategy } from "../schemas/rollouts";

/**
 * The waves of a rollout to `hosts` (in apps.yaml order): the canary hosts alone first, then the
 * others in batches of `batch` hosts (or that share of all hosts, at least one). No batch: the
 * rest in one wave, which without canaries is today's "every host at once".
 */
export function planWaves(hosts: string[], strategy: Strategy): string[][] {
  const canary = strategy.canary.filter((host) => hosts.includes(host));
  const rest = hosts.filter((host) => !canary.includes(host));
  const waves = canary.length ? [canary] : [];
  const size = batchSize(strategy.batch, hosts.length) ?? rest.length;
  for (let i = 0; i < rest.length; i += size) waves.push(rest.slice(i, i + size));
  return waves;
}

function batchSize(batch: Strategy["batch"], total: number): number | null {
  if (batch === null) return null;
  if (typeof batch === "number") return batch;
  return Math.max(1, Math.floor((total * Number(batch.slice(0, -1))) / 100));
}

/** apps.yaml's rollout block as a rollout carries it (durations in seconds). */
export function strategyOf(config: RolloutConfig): Strategy {
  return {
    canary: config.canary,
    batch: config.batch,
    pause_s: config.pause,
    on_failure: config.on_failure,
    wave_timeout_s: config.wave_timeout,
  };
}
