import { Container } from "@cloudflare/containers";
import type { Env } from "../env";

/**
 * The ssh-relay (ssh-relay/Dockerfile) as a Cloudflare Container in production.
 * One instance ("relay") keeps one pooled SSH connection per target. Its
 * secrets come from the Worker's: SSH_RELAY_TOKEN to authenticate the Worker,
 * SSH_PRIVATE_KEY to log in to targets.
 */
export class SshRelay extends Container<Env> {
  override defaultPort = 8788;
  override sleepAfter = "15m";

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    super(ctx, env);
    this.envVars = {
      HOST: "0.0.0.0",
      PORT: "8788",
      SSH_RELAY_TOKEN: env.SSH_RELAY_TOKEN ?? "",
      SSH_PRIVATE_KEY: env.SSH_PRIVATE_KEY ?? "",
    };
  }
}
