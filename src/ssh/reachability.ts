import type { AppsConfig } from "../config/apps";
import type { Env } from "../env";
import { RelayError, relayClient, relayFailure } from "./relay";
import { sshTarget } from "./target";

/** What the host listing says about reaching a host (null fields for agent hosts: `online` says it). */
export interface Reach {
  /** ssh hosts: the relay's last connection attempt succeeded (true), failed (false), or none yet / no answer (null). */
  reachable: boolean | null;
  last_connected_at: string | null;
  unreachable_since: string | null;
  reach_error: { code: string; message: string } | null;
}

const UNKNOWN: Reach = { reachable: null, last_connected_at: null, unreachable_since: null, reach_error: null };

/** The listing must not hang on the relay: it answers from memory, so this is generous. */
const RELAY_TIMEOUT_MS = 3000;

interface RelayAnswer {
  hosts: Array<{ name: string; reachable: boolean | null; last_connected_at: string | null; unreachable_since: string | null; error: { code: string; message: string } | null }>;
}

/**
 * What the ssh-relay's pool knows about reaching each of NAMES that is an ssh host (one relay call for all of
 * them); agent hosts get null fields. When the relay cannot be asked, ssh hosts are unknown (reachable null)
 * and reach_error says why: the listing still answers.
 */
export async function sshReachability(env: Env, config: AppsConfig, names: string[]): Promise<Map<string, Reach>> {
  const result = new Map<string, Reach>(names.map((name) => [name, UNKNOWN]));
  const targets = names.flatMap((name) => {
    const host = config.hosts[name];
    return host?.mode === "ssh" ? [sshTarget(name, host.ssh)] : [];
  });
  if (targets.length === 0) return result;
  try {
    const res = await relayClient(env).fetch("/v1/reachability", { targets }, AbortSignal.timeout(RELAY_TIMEOUT_MS));
    if (!res.ok) throw await relayFailure(res);
    for (const host of ((await res.json()) as RelayAnswer).hosts) {
      result.set(host.name, { reachable: host.reachable, last_connected_at: host.last_connected_at, unreachable_since: host.unreachable_since, reach_error: host.error });
    }
  } catch (err) {
    const error = err instanceof RelayError ? { code: err.code, message: err.message } : { code: "relay_unavailable", message: "the ssh relay did not answer in time" };
    for (const target of targets) result.set(target.name, { ...UNKNOWN, reach_error: error });
  }
  return result;
}
