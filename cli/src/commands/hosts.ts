import { command as defineCommand } from "../lib/command.ts";
import { clientFrom, commonArgs } from "../lib/args.ts";
import { ago, color, printJson, table } from "../lib/output.ts";

interface Host {
  name: string;
  mode: string;
  online: boolean;
  last_heartbeat_at: string | null;
  agent_id: string | null;
  queued: number;
  running_job_id: string | null;
  reachable: boolean | null;
  last_connected_at: string | null;
  unreachable_since: string | null;
  reach_error: { code: string; message: string } | null;
}

/** ssh hosts: what the relay knows ("yes, connected 2m ago", "no since 5m ago: connect_failed"); agent hosts: "-". */
function reach(h: Host): string {
  if (h.mode !== "ssh") return "-";
  if (h.reachable === true) return `yes, connected ${ago(h.last_connected_at)}`;
  if (h.reachable === false) return `no since ${ago(h.unreachable_since)}: ${h.reach_error?.code ?? "unknown error"}`;
  return h.reach_error ? `unknown: ${h.reach_error.code}` : "checking";
}

export default defineCommand({
  meta: { name: "hosts", description: "List hosts: mode, online, last heartbeat (agents) or reachability (ssh), queue, running job and agent id.", examples: ["ctl hosts --json"] },
  args: commonArgs,
  async run({ args }) {
    // /v1/hosts answers a page at a time; a person asking for the hosts wants all of them.
    const client = clientFrom(args);
    const hosts: Host[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/v1/hosts?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { body: page } = await client.json<{ hosts: Host[]; next_cursor: string | null }>("GET", path);
      hosts.push(...page.hosts);
      cursor = page.next_cursor;
    } while (cursor);
    const body = { hosts };
    if (args.json) return printJson(body);
    process.stdout.write(
      `${table(body.hosts, [
        { header: "NAME", value: (h) => h.name },
        { header: "MODE", value: (h) => h.mode },
        { header: "ONLINE", value: (h) => (h.online ? "yes" : "no"), style: (t, h) => (h.online ? color.green(t) : color.red(t)) },
        { header: "HEARTBEAT", value: (h) => (h.mode === "ssh" ? "-" : ago(h.last_heartbeat_at)) },
        { header: "REACH", value: reach, style: (t, h) => (h.reachable === false ? color.red(t) : t) },
        { header: "QUEUED", value: (h) => String(h.queued) },
        { header: "RUNNING", value: (h) => h.running_job_id ?? "-" },
        { header: "AGENT", value: (h) => h.agent_id ?? "-" },
      ])}\n`,
    );
  },
});
