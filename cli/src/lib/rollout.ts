import type { Client } from "./client.ts";
import { followStream, type FollowHandlers } from "./follow.ts";
import { color, shortRef, shortSha, status } from "./output.ts";
import type { Rollout } from "./rollout-shape.ts";

export type { Rollout };


/** One line per host and state it reached: "wave 2/3  web-03  running  job web-03.1a2b…". */
export function hostLines(rollout: Rollout): string[] {
  return rollout.waves.flatMap((wave, w) =>
    wave.hosts.map((host, i) => `wave ${w + 1}/${rollout.waves.length}  ${host}  ${status(wave.states[i] ?? "pending")}${wave.jobs[i] ? `  job ${wave.jobs[i]}` : ""}`),
  );
}

/** A one-line summary: "web main@6113728 → 10 hosts in 3 waves: running". */
export function summary(rollout: Rollout): string {
  const hosts = rollout.waves.reduce((n, w) => n + w.hosts.length, 0);
  return `${rollout.app} ${shortRef(rollout.ref)}@${shortSha(rollout.sha)} → ${hosts} host(s) in ${rollout.waves.length} wave(s): ${status(rollout.status)}`;
}

/**
 * Follows a rollout until it ends, printing each host's progress as it changes. Exit code 0 only
 * when every host succeeded; 130 when stopped by `signal`.
 */
export async function watchRollout(client: Client, first: Rollout, { json = false, signal }: { json?: boolean; signal?: AbortSignal } = {}): Promise<number> {
  const seen = new Set<string>();
  let last = first;
  const show = (rollout: Rollout) => {
    last = rollout;
    if (json) return void process.stdout.write(`${JSON.stringify({ type: "rollout", rollout })}\n`);
    for (const line of hostLines(rollout)) if (!seen.has(line)) (seen.add(line), process.stderr.write(`${line}\n`));
  };
  const onReconnect: FollowHandlers["onReconnect"] = (attempt, reason) => process.stderr.write(color.dim(`connection lost (${reason}); reconnecting (${attempt})…\n`));
  const ended = await followStream(
    client,
    `rollout_id=${encodeURIComponent(first.id)}`,
    (event) => {
      if (event.event === "rollout") show(JSON.parse(event.data) as Rollout);
      return event.event === "end";
    },
    onReconnect,
    signal,
  );
  if (!ended) return 130;
  if (json) process.stdout.write(`${JSON.stringify({ type: "result", rollout: last })}\n`);
  else process.stderr.write(`rollout ${last.id} ${status(last.status)}${last.error ? `: ${last.error}` : ""}\n`);
  return last.status === "succeeded" ? 0 : 1;
}
