import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { ago, color, printJson, shortRef, shortSha, status, table } from "../lib/output.ts";
import type { Rollout } from "../lib/rollout.ts";

interface App {
  name: string;
  hosts: string[];
  releases: Array<{ host: string; release: { sha: string; ref: string; since: string; job_id: string } | null }>;
  rollout: Rollout | null;
  held: string[];
  lock: { reason: string; locked_by: string; locked_at: string } | null;
}

/** What each host runs, per app, with the rollout in progress and the lock: the release matrix. */
const apps = defineCommand({
  meta: { name: "apps", description: "What runs where: each app's release on each host, the rollout in progress, the lock.", examples: ["ctl apps", "ctl apps --json"] },
  args: commonArgs,
  async run({ args }) {
    const { body } = await clientFrom(args).json<{ apps: App[] }>("GET", "/v1/apps");
    if (args.json) return printJson(body);
    const rows = body.apps.flatMap((app) => app.releases.map((r) => ({ app, ...r })));
    const states = (app: App, host: string) => {
      const wave = app.rollout?.waves.find((w) => w.hosts.includes(host));
      return wave ? `${shortSha(app.rollout!.sha)} ${wave.states[wave.hosts.indexOf(host)]}` : "";
    };
    process.stdout.write(
      `${table(rows, [
        { header: "APP", value: (r) => r.app.name },
        { header: "HOST", value: (r) => r.host },
        { header: "RELEASE", value: (r) => (r.release ? `${shortRef(r.release.ref)}@${shortSha(r.release.sha)}` : "-") },
        { header: "SINCE", value: (r) => ago(r.release?.since ?? null) },
        { header: "ROLLING OUT", value: (r) => states(r.app, r.host) },
      ])}\n`,
    );
    for (const app of body.apps) {
      if (app.rollout) process.stdout.write(`${app.name}: rollout ${app.rollout.id} ${status(app.rollout.status)}\n`);
      if (app.lock) process.stdout.write(color.yellow(`${app.name}: locked by ${app.lock.locked_by} ${ago(app.lock.locked_at)}: ${app.lock.reason}${app.held.length ? ` (${app.held.length} held)` : ""}\n`));
    }
  },
});

export default apps;

const appArg = { app: { type: "string", description: "app name from apps.yaml" } } as const;

export const lock = defineCommand({
  meta: { name: "lock", description: "Lock an app: its pushes and rollouts are held until unlocked (kamal lock).", examples: ['ctl lock --app web --reason "incident 42"'] },
  args: { ...commonArgs, ...appArg, reason: { type: "string", description: "why: shown to everyone whose deploy is held" } },
  async run({ args }) {
    const app = requireArg(args.app, "--app");
    const reason = requireArg(args.reason, "--reason");
    const by = process.env.USER ?? process.env.USERNAME ?? "ctl";
    const { body } = await clientFrom(args).json<App["lock"]>("POST", `/v1/apps/${encodeURIComponent(app)}/lock`, { reason, by });
    if (args.json) return printJson(body);
    process.stdout.write(`${app} locked by ${body!.locked_by}: ${body!.reason}\n`);
  },
});

export const unlock = defineCommand({
  meta: { name: "unlock", description: "Unlock an app: the newest held rollout starts, older held ones are superseded.", examples: ["ctl unlock --app web"] },
  args: { ...commonArgs, ...appArg },
  async run({ args }) {
    const app = requireArg(args.app, "--app");
    const { body } = await clientFrom(args).json<{ was: App["lock"] }>("DELETE", `/v1/apps/${encodeURIComponent(app)}/lock`);
    if (args.json) return printJson(body);
    process.stdout.write(body.was ? `${app} unlocked (was locked by ${body.was.locked_by}: ${body.was.reason})\n` : `${app} was not locked\n`);
  },
});
