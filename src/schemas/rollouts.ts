import { z } from "@hono/zod-openapi";
import { SHA } from "./common";

export const ROLLOUT_STATUSES = ["held", "running", "paused", "succeeded", "failed", "halted", "cancelled"] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];
/** The statuses a rollout ends in. */
export const FINISHED_ROLLOUT_STATUSES: readonly RolloutStatus[] = ["succeeded", "failed", "halted", "cancelled"];

export const HOST_STATES = ["pending", "queued", "running", "succeeded", "failed", "cancelled"] as const;
export const WAVE_STATUSES = ["pending", "running", "succeeded", "failed", "halted", "cancelled"] as const;

export const StrategySchema = z
  .object({
    canary: z.array(z.string()).openapi({ description: "hosts of the first wave, alone" }),
    batch: z.union([z.number().int().min(1), z.string().regex(/^\d{1,3}%$/)]).nullable().openapi({ description: "hosts per later wave, or a share of all hosts; null: all in one wave" }),
    pause_s: z.number().openapi({ description: "wait between a wave's success and the next wave" }),
    on_failure: z.enum(["halt", "rollback"]),
    wave_timeout_s: z.number().openapi({ description: "a wave not done by then halts the rollout (an offline agent never holds it forever)" }),
  })
  .openapi("RolloutStrategy");
export type Strategy = z.infer<typeof StrategySchema>;

export const WaveSchema = z
  .object({
    hosts: z.array(z.string()),
    jobs: z.array(z.string().nullable()).openapi({ description: "the job of each host, in the order of hosts; null until the wave starts" }),
    states: z.array(z.enum(HOST_STATES)).openapi({ description: "where each host stands: its job's status, `pending` before it has one" }),
    status: z.enum(WAVE_STATUSES),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi("Wave");
export type Wave = z.infer<typeof WaveSchema>;

export const RolloutSchema = z
  .object({
    id: z.string().openapi({ example: "web.2f0c7d1e-5b7a-4f7e-9a51-3c7e1d0b9a11" }),
    app: z.string(),
    ref: z.string(),
    sha: z.string(),
    status: z.enum(ROLLOUT_STATUSES),
    strategy: StrategySchema,
    waves: z.array(WaveSchema),
    trigger: z.string().openapi({ description: "webhook, api, rollback or github_deployment" }),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi("Rollout");
export type Rollout = z.infer<typeof RolloutSchema>;

export const CreateRolloutBody = z
  .object({
    app: z.string().min(1).max(63),
    ref: z.string().min(1).max(255),
    sha: z.string().regex(SHA, "sha must be a full 40-character lower-case hex commit id").optional(),
    hosts: z.array(z.string().min(1).max(63)).min(1).max(1000).optional().openapi({ description: "a subset of the app's hosts (default: all of them)" }),
    rollback: z.boolean().optional().openapi({ description: "marks the rollout's trigger as rollback (ctl rollback)" }),
  })
  .openapi("CreateRollout");

/** Rollout ids name their app: `<app>.<uuid>`, so a rollout is found at its app's object without D1. */
export function appOfRolloutId(id: string): string | null {
  const dot = id.lastIndexOf(".");
  return dot > 0 ? id.slice(0, dot) : null;
}
