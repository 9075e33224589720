/**
 * The API's Job as ctl reads it. The controller's JobSchema (src/schemas/jobs.ts) is the one
 * definition; test/job-shape.test.ts fails the type check when this copy drifts from it. (ctl
 * compiles for Node on its own, so it cannot import the Worker's zod schema.)
 */
export interface Job {
  id: string;
  app: string;
  repo: string;
  ref: string;
  sha: string;
  host: string;
  mode: "agent" | "ssh";
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  attempt: number;
  agent_id: string | null;
  trigger: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  rollout_id: string | null;
}
