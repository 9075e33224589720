import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { CliError } from "../lib/errors.ts";
import { printJson, table } from "../lib/output.ts";

const exec = defineCommand({
  meta: {
    name: "exec",
    description: "Run a shell command on an ssh host through the relay; exits with the command's exit code.",
    examples: ["ctl ssh exec host-03 -- docker ps", "ctl ssh exec host-03 --timeout 120 -- df -h /"],
  },
  args: {
    ...commonArgs,
    host: { type: "positional", description: "ssh host from apps.yaml", required: false },
    timeout: { type: "string", description: "seconds before the command is killed (1-3600)", default: "60" },
  },
  async run({ args, rawArgs }) {
    const host = requireArg(args.host, "host");
    const dash = rawArgs.indexOf("--");
    const command = dash >= 0 ? rawArgs.slice(dash + 1).join(" ") : "";
    if (!command) throw new CliError("missing the command: ctl ssh exec HOST -- CMD", 2);
    const { body } = await clientFrom(args).json<{ exit_code: number | null; stdout: string; stderr: string; duration_ms: number; truncated: boolean }>(
      "POST",
      "/v1/ssh/execute",
      { host, command, timeout_s: Number(args.timeout) },
    );
    if (args.json) printJson(body);
    else {
      process.stdout.write(body.stdout);
      process.stderr.write(body.stderr);
      if (body.truncated) process.stderr.write("[output truncated]\n");
    }
    process.exitCode = body.exit_code ?? 1;
  },
});

interface Metrics {
  hostname: string;
  uptime_s: number;
  load: number[];
  memory: Record<string, number>;
  disk: Array<Record<string, string | number>>;
  containers: Array<Record<string, unknown>>;
}

const gib = (bytes: unknown) => `${(Number(bytes) / 2 ** 30).toFixed(1)} GiB`;

const metrics = defineCommand({
  meta: { name: "metrics", description: "Uptime, load, memory, disks and containers of an ssh host.", examples: ["ctl ssh metrics host-03"] },
  args: { ...commonArgs, host: { type: "positional", description: "ssh host from apps.yaml", required: false } },
  async run({ args }) {
    const host = requireArg(args.host, "host");
    const { body } = await clientFrom(args).json<Metrics>("GET", `/v1/ssh/metrics/${encodeURIComponent(host)}`);
    if (args.json) return printJson(body);
    const out = [
      `host     ${body.hostname}`,
      `uptime   ${(body.uptime_s / 3600).toFixed(1)} h`,
      `load     ${body.load.join(" ")}`,
      `memory   ${gib(body.memory.used_bytes)} used of ${gib(body.memory.total_bytes)} (${gib(body.memory.available_bytes)} available)`,
      "",
      table(body.disk, [
        { header: "MOUNT", value: (d) => String(d.mount) },
        { header: "SIZE", value: (d) => gib(d.total_bytes) },
        { header: "USED", value: (d) => gib(d.used_bytes) },
        { header: "FREE", value: (d) => gib(d.available_bytes) },
      ]),
      "",
      body.containers.length
        ? table(body.containers, [
            { header: "NAME", value: (c) => String(c.name ?? "") },
            { header: "IMAGE", value: (c) => String(c.image ?? "") },
            { header: "STATE", value: (c) => String(c.state ?? "") },
            { header: "STATUS", value: (c) => String(c.status ?? "") },
          ])
        : "no containers",
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  },
});

export default defineCommand({ meta: { name: "ssh", description: "Commands and metrics on ssh hosts." }, subCommands: { exec, metrics } });
