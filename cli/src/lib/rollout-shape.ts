/**
 * The API's Rollout as ctl reads it (the controller's RolloutSchema is the one definition;
 * test/job-shape.test.ts fails the type check when this copy drifts from it).
 */
export interface Rollout {
  id: string;
  app: string;
  ref: string;
  sha: string;
  status: "held" | "running" | "paused" | "succeeded" | "failed" | "halted" | "cancelled";
  strategy: { canary: string[]; batch: number | string | null; pause_s: number; on_failure: "halt" | "rollback"; wave_timeout_s: number };
  waves: Array<{
    hosts: string[];
    jobs: Array<string | null>;
    states: Array<"pending" | "queued" | "running" | "succeeded" | "failed" | "cancelled">;
    status: "pending" | "running" | "succeeded" | "failed" | "halted" | "cancelled";
    started_at: string | null;
    finished_at: string | null;
  }>;
  trigger: string;
  created_at: string;
  finished_at: string | null;
  error: string | null;
}

