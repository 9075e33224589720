import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Job } from "../lib/client.ts";
import { printJson, shortRef, shortSha, status } from "../lib/output.ts";
import { watchJob } from "../lib/watch.ts";

export const deployArgs = {
  ...commonArgs,
  repo: { type: "string", description: "GitHub repository (owner/name)" },
  app: { type: "string", description: "app name from apps.yaml (instead of --repo)" },
  ref: { type: "string", description: "branch or tag (main, v1.2, refs/heads/main)" },
  host: { type: "string", description: "host name from apps.yaml" },
  sha: { type: "string", description: "commit to deploy (default: the newest one pushed to --ref)" },
  wait: { type: "boolean", description: "follow the job and its log; exit 0 only if it succeeded", default: false },
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

export default defineCommand({
  meta: {
    name: "deploy",
    description: "Deploy a ref of an app (or repo) to one host.",
    examples: ["ctl deploy --repo acme/web --ref main --host host-01", "ctl deploy --app web --ref v1.4.0 --host host-01 --wait"],
  },
  args: deployArgs,
  async run({ args }) {
    requireArg(args.repo ?? args.app, "--repo or --app");
    const body = {
      ...(args.app ? { app: args.app } : { repo: args.repo }),
      ref: requireArg(args.ref, "--ref"),
      host: requireArg(args.host, "--host"),
      ...(args.sha ? { sha: args.sha } : {}),
    };
    process.exitCode = await queueAndReport(args, body);
  },
});
