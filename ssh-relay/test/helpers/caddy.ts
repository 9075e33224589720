import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./sshd.ts";

/** A real Caddy (Debian's package, scripts/services/caddy.sh) with an empty config and its admin API on a free loopback port. */
export interface TestCaddy {
  /** `127.0.0.1:PORT`, as apps.yaml's `proxy.admin` takes it. */
  admin: string;
  /** The running config, read straight from the admin API. */
  config(): Promise<unknown>;
  close(): Promise<void>;
}

/** Fails loudly (never skips) when caddy is not installed. */
export function requireCaddy(): void {
  const found = spawnSync("caddy", ["version"], { encoding: "utf8" });
  if (found.status !== 0) throw new Error("caddy is not installed: run `sudo bash scripts/services/caddy.sh`");
  // Without it a Caddy reload resets the odd queued connection, and "no failed request" would be luck.
  if (readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() !== "1") {
    throw new Error("net.ipv4.tcp_migrate_req is not 1: run `sudo bash scripts/services/caddy.sh`");
  }
}

export async function startCaddy(): Promise<TestCaddy> {
  const home = mkdtempSync(join(tmpdir(), "deploybot-caddy-"));
  const admin = `127.0.0.1:${await freePort()}`;
  const file = join(home, "caddy.json");
  writeFileSync(file, JSON.stringify({ admin: { listen: admin } }));
  const child: ChildProcess = spawn("caddy", ["run", "--config", file], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home },
    stdio: "ignore",
  });
  const config = async () => (await (await fetch(`http://${admin}/config/`)).json()) as unknown;
  for (let i = 0; ; i++) {
    try {
      await config();
      break;
    } catch (err) {
      if (i > 150 || child.exitCode !== null) throw new Error(`caddy did not answer at ${admin}: ${(err as Error).message}`);
      await sleep(100);
    }
  }
  return {
    admin,
    config,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
