import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Client, Job } from "../lib/client.ts";
import { CliError } from "../lib/errors.ts";
import type { Rollout } from "../lib/rollout.ts";
import { queueAndReport, rolloutAndReport } from "./deploy.ts";

/**
 * The release to go back to: the newest succeeded job of the app on the host
 * is what runs now; the previous release is the newest succeeded one with another sha.
 */
export function previousRelease(succeeded: Job[]): Job | null {
  const current = succeeded[0];
  return succeeded.find((job) => job.sha !== current?.sha) ?? null;
}

/** The release of the app's previous successful rollout (or the one with sha `to`). */
async function previousRollout(client: Client, app: string, to: string | undefined): Promise<{ ref: string; sha: string }> {
  const query = new URLSearchParams({ app, status: "succeeded", limit: "200" });
  const { body } = await client.json<{ rollouts: Rollout[] }>("GET", `/v1/rollouts?${query}`);
  const target = to ? body.rollouts.find((r) => r.sha.startsWith(to)) : body.rollouts.find((r) => r.sha !== body.rollouts[0]?.sha);
  if (!target) throw new CliError(to ? `no successful rollout of ${to} for ${app} in recent history` : `no earlier successful rollout of ${app} to go back to`);
  return { ref: target.ref, sha: target.sha };
}

export default defineCommand({
  meta: {
    name: "rollback",
    description: "Deploy the previous successful release of an app again (or the sha given): on one host, or (without --host) on all of them as a rollout.",
    examples: [
      "ctl rollback --app web --host host-01 --wait",
      "ctl rollback --app web --host host-01 --to 6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      "ctl rollback --app web --wait        # every host, as a rollout of the previous successful rollout's release",
    ],
  },
  args: {
    ...commonArgs,
    app: { type: "string", description: "app name from apps.yaml" },
    host: { type: "string", description: "one host from apps.yaml (without it: every host of the app)" },
    to: { type: "string", description: "the sha to go back to (default: the previous successful one)" },
    wait: { type: "boolean", description: "follow the job and its log; exit 0 only if it succeeded", default: false },
  },
  async run({ args }) {
    const app = requireArg(args.app, "--app");
    if (!args.host) {
      process.exitCode = await rolloutAndReport(args, { app, ...(await previousRollout(clientFrom(args), app, args.to)), rollback: true });
      return;
    }
    const host = args.host;
    const client = clientFrom(args);
    const query = new URLSearchParams({ app, host, status: "succeeded", limit: "200" });
    const { body } = await client.json<{ jobs: Job[] }>("GET", `/v1/jobs?${query}`);
    let target: Job | null | undefined;
    if (args.to) {
      target = body.jobs.find((job) => job.sha.startsWith(args.to!));
      if (!target) throw new CliError(`no successful deploy of ${args.to} for ${app} on ${host} in recent history`);
    } else {
      target = previousRelease(body.jobs);
      if (!target) throw new CliError(`no earlier successful release of ${app} on ${host} to go back to`);
    }
    process.exitCode = await queueAndReport(args, { app, ref: target.ref, sha: target.sha, host, rollback: true });
  },
});
