import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { printJson } from "../lib/output.ts";
import { CliError } from "../lib/errors.ts";

interface Revoked {
  agent_id: string;
  hostname: string;
  revoked_at: string;
  failed_jobs: string[];
}

const revoke = defineCommand({
  meta: {
    name: "revoke",
    description: "Revoke an agent (a lost or compromised machine): its token is refused at once and the job it runs ends failed. `ctl hosts` shows agent ids.",
    examples: ["ctl agents revoke 0b6f1c2e-4a8d-4e3b-9f1a-2c5d7e8f9a0b"],
  },
  args: { ...commonArgs, id: { type: "positional", description: "agent id", required: false } },
  async run({ args }) {
    const id = requireArg(args.id, "agent id");
    const { body } = await clientFrom(args).json<Revoked>("DELETE", `/v1/agents/${encodeURIComponent(id)}`);
    if (args.json) return printJson(body);
    const jobs = body.failed_jobs.length ? `; ended its running job ${body.failed_jobs.join(", ")}` : "";
    process.stdout.write(
      `agent ${body.agent_id} of host ${body.hostname} revoked at ${body.revoked_at}${jobs}\n` +
        "it stays out until someone deletes its state file on the host and starts it again (rotate AGENT_ENROLL_TOKEN if the machine is not trusted)\n",
    );
  },
});

interface EnrollToken {
  token: string;
  host: string;
  expires_at: string;
  single_use: boolean;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "1h", "7d" in seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match || Number(match[1]) === 0) throw new CliError(`--ttl must look like 90s, 15m, 1h or 7d, not "${text}"`, 2);
  return Number(match[1]) * UNIT_S[match[2] || "s"]!;
}

const enrollToken = defineCommand({
  meta: {
    name: "enroll-token",
    description: "Issue an enrollment token that registers one host only (single use unless --reusable; 1h unless --ttl). It is shown once.",
    examples: ["ctl agents enroll-token --host host-01", "ctl agents enroll-token --host host-01 --ttl 1d --reusable"],
  },
  args: {
    ...commonArgs,
    host: { type: "string", description: "the host from apps.yaml it registers" },
    ttl: { type: "string", description: "how long it stays valid: 90s, 15m, 1h (default), 7d (at most)" },
    reusable: { type: "boolean", description: "let several registrations use it until it expires", default: false },
  },
  async run({ args }) {
    const host = requireArg(args.host, "--host");
    const request = { host, single_use: !args.reusable, ...(args.ttl ? { ttl_s: parseTtl(args.ttl) } : {}) };
    const { body } = await clientFrom(args).json<EnrollToken>("POST", "/v1/agents/enroll-tokens", request);
    if (args.json) return printJson(body);
    const use = body.single_use ? "once" : "any number of times";
    process.stdout.write(`${body.token}\nregisters host ${body.host} ${use}, until ${body.expires_at}; it is shown only now\n`);
  },
});

export default defineCommand({
  meta: { name: "agents", description: "Manage agents." },
  subCommands: { revoke, "enroll-token": enrollToken },
});
