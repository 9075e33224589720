import { z } from "zod";

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** A duration as apps.yaml writes it ("30s", "15m", or a number of seconds), in seconds; 0 allowed. */
const span = z
  .union([z.number().min(0), z.string().regex(DURATION, 'expected a duration such as "30s", "15m" or "1h"')])
  .transform((value) => {
    if (typeof value === "number") return value;
    const [, amount, unit] = DURATION.exec(value)!;
    return Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  });

/**
 * How a release reaches an app's hosts (apps.yaml `rollout:`): the canary hosts alone first, then
 * waves of `batch` hosts (a number, or a share such as "25%"), `pause` between waves. A failed job
 * halts the rollout (`on_failure: rollback` also sends the hosts already updated back); a wave not
 * done within `wave_timeout` (an offline agent) halts it too. Without it: all hosts in one wave.
 */
export const rolloutSchema = z
  .strictObject({
    canary: z.array(z.string().min(1)).default([]),
    batch: z
      .union([
        z.number().int().min(1, "batch must be at least 1"),
        z.string().regex(/^(100|[1-9]\d?)%$/, 'batch as a share is "1%" to "100%"'),
      ])
      .nullable()
      .default(null),
    pause: span.default(0),
    on_failure: z.enum(["halt", "rollback"]).default("halt"),
    wave_timeout: span.refine((s) => s > 0, "wave_timeout must be more than 0").default(15 * 60),
  })
  .default({ canary: [], batch: null, pause: 0, on_failure: "halt", wave_timeout: 15 * 60 });

export type RolloutConfig = z.output<typeof rolloutSchema>;
