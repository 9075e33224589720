import { readFile } from "node:fs/promises";
import { command as defineCommand } from "../lib/command.ts";
import { parseAppsYaml } from "../../../src/config/apps.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { CliError } from "../lib/errors.ts";
import { printJson } from "../lib/output.ts";

async function readConfig(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
}

const get = defineCommand({
  meta: { name: "get", description: "Print the running apps.yaml.", examples: ["ctl config get > apps.yaml"] },
  args: commonArgs,
  async run({ args }) {
    const client = clientFrom(args);
    const res = await client.raw("/v1/config");
    const text = await client.check<string>(res);
    if (args.json) return printJson({ version: Number(res.headers.get("x-config-version")), source: res.headers.get("x-config-source"), yaml: text });
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  },
});

const push = defineCommand({
  meta: { name: "push", description: "Validate and store an apps.yaml; it runs from now on.", examples: ["ctl config push apps.yaml"] },
  args: { ...commonArgs, file: { type: "positional", description: "the apps.yaml to push", required: false } },
  async run({ args }) {
    const file = requireArg(args.file, "FILE");
    const yaml = await readConfig(file);
    const client = clientFrom(args);
    const res = await client.raw("/v1/config", { method: "PUT", body: yaml, headers: { "content-type": "application/yaml" } });
    const body = await client.check<{ version: number; changed: boolean; apps: string[]; hosts: string[]; cancelled_jobs?: string[] }>(res);
    if (args.json) return printJson(body);
    process.stdout.write(
      body.changed
        ? `stored as version ${body.version}: ${body.apps.length} app(s), ${body.hosts.length} host(s)\n` +
            (body.cancelled_jobs?.length
              ? `cancelled ${body.cancelled_jobs.length} queued job(s) whose app no longer deploys to their host: ${body.cancelled_jobs.join(", ")}\n`
              : "")
        : `unchanged: the running configuration (version ${body.version}) is the same file\n`,
    );
  },
});

const validate = defineCommand({
  meta: {
    name: "validate",
    description: "Check an apps.yaml offline with the controller's own validator; every problem with its line and column.",
    examples: ["ctl config validate apps.yaml"],
  },
  args: { json: commonArgs.json, file: { type: "positional", description: "the apps.yaml to check", required: false } },
  async run({ args }) {
    const file = requireArg(args.file, "FILE");
    const result = parseAppsYaml(await readConfig(file));
    if (args.json) {
      printJson(result.ok ? { valid: true, apps: Object.keys(result.config.apps), hosts: Object.keys(result.config.hosts) } : { valid: false, problems: result.problems });
    } else if (result.ok) {
      process.stdout.write(`${file}: valid (${Object.keys(result.config.apps).length} app(s), ${Object.keys(result.config.hosts).length} host(s))\n`);
    } else {
      process.stderr.write(result.problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message}${p.path ? ` (${p.path})` : ""}`).join("\n") + "\n");
    }
    process.exitCode = result.ok ? 0 : 1;
  },
});

export default defineCommand({ meta: { name: "config", description: "Read, push and validate apps.yaml." }, subCommands: { get, push, validate } });
