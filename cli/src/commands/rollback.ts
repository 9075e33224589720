import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Job } from "../lib/client.ts";
import { CliError } from "../lib/errors.ts";
import { queueAndReport } from "./deploy.ts";

/**
 * The release to go back to: the newest succeeded job of the app on the host
 * is what runs now; the previous release is the newest succeeded one with another sha.
 */
export function previousRelease(succeeded: Job[]): Job | null {
  const current = succeeded[0];
  return succeeded.find((job) => job.sha !== current?.sha) ?? null;
}

export default defineCommand({
  meta: {
    name: "rollback",
    description: "Deploy the previous successful release of an app on a host again (or the sha given).",
    examples: ["ctl rollback --app web --host host-01 --wait", "ctl rollback --app web --host host-01 --to 6113728f27ae82c7b1a177c8d03f9e96e0adf246"],
  },
  args: {
    ...commonArgs,
    app: { type: "string", description: "app name from apps.yaml" },
    host: { type: "string", description: "host name from apps.yaml" },
    to: { type: "string", description: "the sha to go back to (default: the previous successful one)" },
    wait: { type: "boolean", description: "follow the job and its log; exit 0 only if it succeeded", default: false },
  },
  async run({ args }) {
    const app = requireArg(args.app, "--app");
    const host = requireArg(args.host, "--host");
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
