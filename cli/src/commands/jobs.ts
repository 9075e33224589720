import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import type { Job } from "../lib/client.ts";
import { describeGitHub, type GitHubStatus } from "../lib/github.ts";
import { ago, printJson, shortRef, shortSha, status, table } from "../lib/output.ts";
import { forOutput } from "../lib/terminal.ts";

/** Text from a job (its ref, its error) as the terminal should show it: control characters visible, not obeyed. */
const shown = (text: string) => forOutput(text, { tty: process.stdout.isTTY });

const ls = defineCommand({
  meta: { name: "ls", description: "List jobs, newest first.", examples: ["ctl jobs ls --host host-01 --status failed", "ctl jobs ls --app web --limit 5 --json"] },
  args: {
    ...commonArgs,
    host: { type: "string", description: "only this host" },
    app: { type: "string", description: "only this app" },
    status: { type: "string", description: "queued, running, succeeded, failed or cancelled" },
    limit: { type: "string", description: "how many (1-200)", default: "20" },
  },
  async run({ args }) {
    const query = new URLSearchParams({ limit: args.limit });
    for (const key of ["host", "app", "status"] as const) if (args[key]) query.set(key, args[key]!);
    const { body } = await clientFrom(args).json<{ jobs: Job[]; next_cursor: string | null }>("GET", `/v1/jobs?${query}`);
    if (args.json) return printJson(body);
    if (body.jobs.length === 0) return void process.stdout.write("no jobs\n");
    process.stdout.write(
      `${table(body.jobs, [
        { header: "ID", value: (j) => j.id },
        { header: "APP", value: (j) => j.app },
        { header: "REF", value: (j) => shown(`${shortRef(j.ref)}@${shortSha(j.sha)}`) },
        { header: "HOST", value: (j) => j.host },
        { header: "STATUS", value: (j) => j.status, style: (text, j) => text.replace(j.status, status(j.status)) },
        { header: "TRIGGER", value: (j) => j.trigger },
        { header: "CREATED", value: (j) => ago(j.created_at) },
        { header: "ERROR", value: (j) => shown(j.error ?? "") },
      ])}\n`,
    );
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Show one job.", examples: ["ctl jobs show 2fa869fa-fbbf-4075-baa4-27a9f0344ad3"] },
  args: { ...commonArgs, id: { type: "positional", description: "job id", required: false } },
  async run({ args }) {
    const id = requireArg(args.id, "job id");
    const client = clientFrom(args);
    const { body: job } = await client.json<Job>("GET", `/v1/jobs/${encodeURIComponent(id)}`);
    if (args.json) return printJson(job);
    // A controller without the route (older) just has no GitHub line.
    const github = await client.json<GitHubStatus>("GET", `/v1/jobs/${encodeURIComponent(id)}/github`).then((r) => r.body, () => null);
    const rows: Array<[string, string]> = [
      ["id", job.id],
      ["status", status(job.status)],
      ["app", job.app],
      ["repo", job.repo],
      ["ref", shown(job.ref)],
      ["sha", job.sha],
      ["host", `${job.host} (${job.mode})`],
      ["attempt", String(job.attempt)],
      ["agent", job.agent_id ?? "-"],
      ["trigger", job.trigger],
      ["created", job.created_at],
      ["started", job.started_at ?? "-"],
      ["finished", job.finished_at ?? "-"],
      ["exit code", job.exit_code === null ? "-" : String(job.exit_code)],
      ["error", shown(job.error ?? "-")],
      ...(github ? [["github", shown(describeGitHub(github))] as [string, string]] : []),
    ];
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(10)} ${v}`).join("\n")}\n`);
  },
});

const cancel = defineCommand({
  meta: { name: "cancel", description: "Cancel a job: a queued one at once, a running one when its agent hears.", examples: ["ctl jobs cancel 2fa869fa-fbbf-4075-baa4-27a9f0344ad3"] },
  args: { ...commonArgs, id: { type: "positional", description: "job id", required: false } },
  async run({ args }) {
    const id = requireArg(args.id, "job id");
    const { status: code, body: job } = await clientFrom(args).json<Job>("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`);
    if (args.json) return printJson(job);
    process.stdout.write(code === 200 ? `job ${job.id} cancelled\n` : `job ${job.id} is running: cancel requested; its agent stops it and puts the previous container back\n`);
  },
});

export default defineCommand({
  meta: { name: "jobs", description: "List, show and cancel jobs." },
  subCommands: { ls, show, cancel },
});
