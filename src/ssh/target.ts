import type { AppsConfig, HostConfig } from "../config/apps";
import { ApiError } from "../errors";
import type { SshTarget } from "./relay";

type SshHostConfig = Extract<HostConfig, { mode: "ssh" }>["ssh"];

/** The relay's view of an ssh host. */
export function sshTarget(name: string, ssh: SshHostConfig): SshTarget {
  return { name, address: ssh.address, port: ssh.port, user: ssh.user, host_key: ssh.host_key };
}

/** The target of an ssh host named in a request: 404 for an unknown host, 409 for an agent host. */
export function requireSshHost(config: AppsConfig, name: string): SshTarget {
  const host = config.hosts[name];
  if (!host) throw new ApiError(404, "unknown_host", `host "${name}" is not in apps.yaml`);
  if (host.mode !== "ssh") {
    throw new ApiError(409, "not_an_ssh_host", `host "${name}" runs an agent (mode: agent); ssh routes serve hosts with mode: ssh`);
  }
  return sshTarget(name, host.ssh);
}
