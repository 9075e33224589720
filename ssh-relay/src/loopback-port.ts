/**
 * Choosing the loopback port a cutover publishes its new release on. The port
 * is explicit (`-p 127.0.0.1:PORT:APP_PORT`) rather than left to Docker,
 * because Docker picks a fresh port for an empty host port every time the
 * container starts: after a crash under the restart policy, or a restart of
 * dockerd, the release would come back on another port while Caddy still
 * dials the old one. An explicit binding is kept across restarts.
 *
 * The choice is made from what the target's kernel reports (readPortTable in
 * commands.ts): a random port of its ephemeral range, the range Docker picks
 * from too, that no socket holds. A port taken between the read and `docker
 * run`, or held by Docker without a socket (userland proxy off), makes docker
 * refuse; the cutover then picks another (portConflict).
 */

export interface PortTable {
  /** The kernel's ephemeral range, `net.ipv4.ip_local_port_range`. */
  range: { low: number; high: number };
  /** Local ports of every socket in /proc/net/tcp and tcp6, whatever its state. */
  used: Set<number>;
}

/** Parses the output of readPortTable(): the range on the first line, then the TCP tables. */
export function parsePortTable(text: string): PortTable {
  const [first = "", ...rest] = text.split("\n");
  const [low, high] = first.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(low) || !Number.isInteger(high) || low! < 1 || high! > 65535 || low! > high!) {
    throw new Error(`cannot read the target's ephemeral port range from /proc/sys/net/ipv4/ip_local_port_range: ${JSON.stringify(first.slice(0, 40))}`);
  }
  const used = new Set<number>();
  for (const line of rest) {
    // `  12: 0100007F:1F90 00000000:0000 0A …`: the local address is the second field, its port in hex.
    const local = /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s/.exec(line);
    if (local) used.add(Number.parseInt(local[1]!, 16));
  }
  return { range: { low: low!, high: high! }, used };
}

/** A port of TABLE's range that no socket holds and that is not in AVOID (ports already tried). */
export function pickLoopbackPort(table: PortTable, avoid: ReadonlySet<number> = new Set(), random: () => number = Math.random): number {
  const { low, high } = table.range;
  const free = (port: number) => !table.used.has(port) && !avoid.has(port);
  // Random first: a second picker (another tool, Docker itself) is unlikely to land on the same port.
  for (let i = 0; i < 64; i++) {
    const port = low + Math.floor(random() * (high - low + 1));
    if (free(port)) return port;
  }
  for (let port = low; port <= high; port++) if (free(port)) return port;
  throw new Error(`no free port in the target's ephemeral range ${low}-${high}`);
}

/** Docker refused `docker run` because the host port is taken: worth another port. */
export function portConflict(stderr: string): boolean {
  return /port is already allocated|address already in use/i.test(stderr);
}
