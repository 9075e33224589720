import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { printJson } from "../lib/output.ts";

const test = defineCommand({
  meta: { name: "test", description: "Send a test event to each of an app's notify: URLs.", examples: ["ctl notify test web"] },
  args: { ...commonArgs, app: { type: "positional", description: "app name", required: false } },
  async run({ args }) {
    const app = requireArg(args.app, "app name");
    const { body } = await clientFrom(args).json<{ deliveries: string[] }>("POST", `/v1/apps/${encodeURIComponent(app)}/notify/test`);
    if (args.json) return printJson(body);
    process.stdout.write(`queued a test event to ${body.deliveries.length} URL${body.deliveries.length === 1 ? "" : "s"} of ${app}: ${body.deliveries.join(", ")}\n`);
  },
});

export default defineCommand({
  meta: { name: "notify", description: "Notifications of apps.yaml's notify: URLs." },
  subCommands: { test },
});
