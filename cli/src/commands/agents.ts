import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs, requireArg } from "../lib/args.ts";
import { printJson } from "../lib/output.ts";

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

export default defineCommand({
  meta: { name: "agents", description: "Manage agents." },
  subCommands: { revoke },
});
