import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { describeGitHub, type GitHubStatus } from "../lib/github.ts";
import { ago, printJson, shortRef, shortSha, status, table } from "../lib/output.ts";
import { hostLines, summary, watchRollout, type Rollout } from "../lib/rollout.ts";
import { forOutput } from "../lib/terminal.ts";

const idArg = { id: { type: "positional", description: "rollout id", required: false } } as const;

const ls = defineCommand({
  meta: { name: "ls", description: "Rollouts, newest first.", examples: ["ctl rollouts ls --app web", "ctl rollouts ls --status failed --json"] },
  args: {
    ...commonArgs,
    app: { type: "string", description: "only this app's" },
    status: { type: "string", description: "held, running, paused, succeeded, failed, halted or cancelled" },
    limit: { type: "string", description: "how many (default 50)" },
    cursor: { type: "string", description: "next_cursor of the previous page" },
  },
  async run({ args }) {
    const query = new URLSearchParams();
    for (const key of ["app", "status", "limit", "cursor"] as const) if (args[key]) query.set(key, args[key]!);
    const { body } = await clientFrom(args).json<{ rollouts: Rollout[]; next_cursor: string | null }>("GET", `/v1/rollouts?${query}`);
    if (args.json) return printJson(body);
    process.stdout.write(
      `${table(body.rollouts, [
        { header: "ID", value: (r) => r.id },
        { header: "RELEASE", value: (r) => `${shortRef(r.ref)}@${shortSha(r.sha)}` },
        { header: "STATUS", value: (r) => r.status, style: (t, r) => t.replace(r.status, status(r.status)) },
        { header: "WAVES", value: (r) => `${r.waves.filter((w) => w.status === "succeeded").length}/${r.waves.length}` },
        { header: "TRIGGER", value: (r) => r.trigger },
        { header: "CREATED", value: (r) => ago(r.created_at) },
      ])}\n${body.next_cursor ? `more: --cursor ${body.next_cursor}\n` : ""}`,
    );
  },
});

const show = defineCommand({
  meta: { name: "show", description: "One rollout: its waves and each host's job.", examples: ["ctl rollouts show web.2f0c…"] },
  args: { ...commonArgs, ...idArg },
  async run({ args }) {
    const id = encodeURIComponent(requireArg(args.id, "ID"));
    const client = clientFrom(args);
    const { body } = await client.json<Rollout>("GET", `/v1/rollouts/${id}`);
    if (args.json) return printJson(body);
    // A controller without the route (older) just has no GitHub line.
    const github = await client.json<GitHubStatus>("GET", `/v1/rollouts/${id}/github`).then((r) => r.body, () => null);
    const githubLine = github ? `github  ${forOutput(describeGitHub(github), { tty: process.stdout.isTTY })}\n` : "";
    process.stdout.write(`${body.id}\n${summary(body)}${body.error ? `\n${body.error}` : ""}\n${githubLine}${hostLines(body).join("\n")}\n`);
  },
});

const act = (verb: "pause" | "resume" | "cancel", description: string) =>
  defineCommand({
    meta: { name: verb, description, examples: [`ctl rollouts ${verb} web.2f0c…`] },
    args: { ...commonArgs, ...idArg },
    async run({ args }) {
      const id = requireArg(args.id, "ID");
      const { body } = await clientFrom(args).json<Rollout>("POST", `/v1/rollouts/${encodeURIComponent(id)}/${verb}`);
      if (args.json) return printJson(body);
      process.stdout.write(`rollout ${body.id}: ${status(body.status)}\n`);
    },
  });

const watch = defineCommand({
  meta: { name: "watch", description: "Follow a rollout host by host until it ends; exit 0 only if every host succeeded.", examples: ["ctl rollouts watch web.2f0c…"] },
  args: { ...commonArgs, ...idArg },
  async run({ args }) {
    const client = clientFrom(args);
    const { body } = await client.json<Rollout>("GET", `/v1/rollouts/${encodeURIComponent(requireArg(args.id, "ID"))}`);
    process.exitCode = await watchRollout(client, body, { json: args.json });
  },
});

export default defineCommand({
  meta: { name: "rollouts", description: "Releases of an app to its hosts, in waves: list, show, watch, pause, resume, cancel." },
  subCommands: {
    ls,
    show,
    watch,
    pause: act("pause", "Pause a running rollout: the wave in progress finishes, the next does not start."),
    resume: act("resume", "Resume a paused rollout."),
    cancel: act("cancel", "Cancel a rollout: waves not started and jobs still queued are cancelled; running jobs finish."),
  },
});
