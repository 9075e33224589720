#!/usr/bin/env node
import { defineCommand, runMain, type CommandDef } from "citty";
import agents from "./commands/agents.ts";
import apps, { lock, unlock } from "./commands/apps.ts";
import config from "./commands/config.ts";
import deploy from "./commands/deploy.ts";
import hosts from "./commands/hosts.ts";
import jobs from "./commands/jobs.ts";
import logs from "./commands/logs.ts";
import rollback from "./commands/rollback.ts";
import rollouts from "./commands/rollouts.ts";
import notify from "./commands/notify.ts";
import ssh from "./commands/ssh.ts";
import { showUsage } from "./lib/command.ts";
import { CliError } from "./lib/errors.ts";

const main = defineCommand({
  meta: {
    name: "ctl",
    version: "0.1.0",
    description: "DeployBot's command line. Reads DEPLOYBOT_URL and DEPLOYBOT_TOKEN (or --url and --token).",
  },
  subCommands: { deploy, rollouts, jobs, logs, rollback, apps, lock, unlock, hosts, agents, ssh, config, notify },
});

// One line for people on any error; a stack trace only when asked for with DEBUG.
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
function fail(err: unknown): never {
  const exitCode = err instanceof CliError ? err.exitCode : 1;
  process.stderr.write(`ctl: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.DEBUG && err instanceof Error && !(err instanceof CliError)) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCode);
}

/** Every command's errors end in `fail` (citty would print them with a stack trace). */
function guard(command: CommandDef<any>): void {
  const run = command.run;
  if (run) command.run = async (context) => await Promise.resolve(run(context)).catch(fail);
  for (const sub of Object.values((command.subCommands ?? {}) as Record<string, CommandDef<any>>)) guard(sub);
}
guard(main);

await runMain(main, { showUsage }).catch(fail);
