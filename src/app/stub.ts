import type { Env } from "../env";

/** The Durable Object of one app: its rollouts, its lock and what runs where. */
export function appState(env: Env, app: string) {
  return env.APP_STATE.get(env.APP_STATE.idFromName(app));
}
