import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Job } from "../lib/client.ts";
import { printJson, shortRef, shortSha, status } from "../lib/output.ts";
import { summary, watchRollout, type Rollout } from "../lib/rollout.ts";
import { watchJob } from "../lib/watch.ts";

export const deployArgs = {
  ...commonArgs,
  repo: { type: "string", description: "GitHub repository (owner/name)" },
  app: { type: "string", description: "app name from apps.yaml (instead of --repo)" },
  ref: { type: "string", description: "branch or tag (main, v1.2, refs/heads/main)" },
  host: { type: "string", description: "one host from apps.yaml (without it: a rollout to every host of the app)" },
  sha: { type: "string", description: "commit to deploy (default: the newest one pushed to --ref)" },
  wait: { type: "boolean", description: "follow the job (or the rollout, host by host); exit 0 only if it succeeded", default: false },
} as const;

/** Queues a deploy and prints it; with --wait follows it to the end. */
export async function queueAndReport(
  args: { json: boolean; wait: boolean; url?: string; token?: string },
  body: Record<string, unknown>,
): Promise<number> {
  const client = clientFrom(args);
  const { status: code, body: job } = await client.json<Job>("POST", "/v1/jobs", body);
  if (args.json && !args.wait) printJson(job);
  else if (!args.json) {
    const what = code === 201 ? "queued" : "already queued or running";
    process.stdout.write(`${job.app} ${shortRef(job.ref)}@${shortSha(job.sha)} on ${job.host}: job ${job.id} ${what} (${status(job.status)})\n`);
  }
  return args.wait ? watchJob(client, job, { json: args.json }) : 0;
}

/** Starts a rollout and prints it; with --wait follows it host by host to the end. */
export async function rolloutAndReport(args: { json: boolean; wait: boolean; url?: string; token?: string }, body: Record<string, unknown>): Promise<number> {
  const client = clientFrom(args);
  const { body: rollout } = await client.json<Rollout & { jobs: Job[] }>("POST", "/v1/rollouts", body);
  if (args.json && !args.wait) printJson(rollout);
  else if (!args.json) process.stdout.write(`rollout ${rollout.id}: ${summary(rollout)}${rollout.error ? ` (${rollout.error})` : ""}\n`);
  return args.wait ? watchRollout(client, rollout, { json: args.json }) : 0;
}

export default defineCommand({
  meta: {
    name: "deploy",
    description: "Deploy a ref of an app to one host, or (without --host) to all of its hosts as a rollout in waves.",
    examples: [
      "ctl deploy --repo acme/web --ref main --host host-01",
      "ctl deploy --app web --ref v1.4.0 --host host-01 --wait",
      "ctl deploy --app web --ref v2 --wait        # a rollout to every host of web, by its strategy",
    ],
  },
  args: deployArgs,
  async run({ args }) {
    requireArg(args.repo ?? args.app, "--repo or --app");
    if (!args.host) {
      const app = requireArg(args.app, "--app (a rollout without --host names the app)");
      process.exitCode = await rolloutAndReport(args, { app, ref: requireArg(args.ref, "--ref"), ...(args.sha ? { sha: args.sha } : {}) });
      return;
    }
    const body = {
      ...(args.app ? { app: args.app } : { repo: args.repo }),
      ref: requireArg(args.ref, "--ref"),
      host: requireArg(args.host, "--host"),
      ...(args.sha ? { sha: args.sha } : {}),
    };
    process.exitCode = await queueAndReport(args, body);
  },
});
