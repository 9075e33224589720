import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Job } from "../lib/client.ts";
import type { LogLine } from "../lib/follow.ts";
import { printLine, watchJob } from "../lib/watch.ts";

export default defineCommand({
  meta: {
    name: "logs",
    description: "Print a job's log; with -f follow it live until the job ends (reconnecting without losing or repeating lines).",
    examples: ["ctl logs 2fa869fa-fbbf-4075-baa4-27a9f0344ad3", "ctl logs 2fa869fa-fbbf-4075-baa4-27a9f0344ad3 -f"],
  },
  args: {
    ...commonArgs,
    job: { type: "positional", description: "job id", required: false },
    follow: { type: "boolean", alias: "f", description: "follow live lines until the job ends", default: false },
    raw: { type: "boolean", description: "write control characters (ESC…) as they are; by default a terminal shows them as \\x1b", default: false },
  },
  async run({ args }) {
    const id = requireArg(args.job, "job id");
    const client = clientFrom(args);
    if (args.follow) {
      const { body: job } = await client.json<Job>("GET", `/v1/jobs/${encodeURIComponent(id)}`);
      process.exitCode = await watchJob(client, job, { json: args.json, raw: args.raw });
      return;
    }
    let after = 0;
    for (;;) {
      const { body } = await client.json<{ lines: Array<LogLine & { pos: number }>; next_after: number | null }>(
        "GET",
        `/v1/jobs/${encodeURIComponent(id)}/logs?after=${after}&limit=1000`,
      );
      for (const line of body.lines) args.json ? process.stdout.write(`${JSON.stringify(line)}\n`) : printLine(line, { raw: args.raw });
      if (body.next_after === null) break;
      after = body.next_after;
    }
  },
});
