import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { userInfo, tmpdir } from "node:os";
import { join } from "node:path";
import type { SshTarget } from "../../src/pool.ts";

const SSHD = "/usr/sbin/sshd";
const MISSING = "run `sudo bash scripts/services/sshd.sh` from the repository root to install it";

/** The deploy account scripts/services/sshd.sh creates: a plain shell, in the docker group. */
export const SSH_TEST_USER = "deploybot-ssh";

/**
 * The account test sessions log in as. Run as root, a dedicated deploy user
 * (DEPLOYBOT_TEST_SSH_USER, default {@link SSH_TEST_USER}), the way the README
 * sets up an SSH host: the tests' own account would bring its login scripts
 * into every session (root's .bashrc on the CI machines runs `pyenv init`,
 * 120 ms a session). Run as anyone else, sshd can only let that user in.
 */
function loginUser(): string {
  if (process.getuid?.() !== 0) return userInfo().username;
  const user = process.env.DEPLOYBOT_TEST_SSH_USER || SSH_TEST_USER;
  if (spawnSync("getent", ["passwd", user], { stdio: "ignore" }).status !== 0) {
    throw new Error(`the test sshd logs in as ${user}, and there is no such user: ${MISSING} and create it`);
  }
  return user;
}

/** A throwaway key pair made with ssh-keygen. */
export interface KeyPair {
  privateKey: string;
  /** `type base64`, without the comment. */
  publicKey: string;
  path: string;
}

/** Fails loudly (never skips) when OpenSSH is not installed. */
export function requireOpenSsh(): void {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: ${MISSING}`);
  if (spawnSync("ssh-keygen", ["-?"], { stdio: "ignore" }).error) throw new Error(`ssh-keygen is missing: ${MISSING}`);
}

export function generateKey(dir: string, name: string): KeyPair {
  const path = join(dir, name);
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `deploybot-test-${name}`, "-f", path], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr}`);
  const [type, base64] = readFileSync(`${path}.pub`, "utf8").trim().split(/\s+/);
  return { privateKey: readFileSync(path, "utf8"), publicKey: `${type} ${base64}`, path };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private sshd for one test file: its own host key, client key, config and
 * port on 127.0.0.1, started with `sshd -D` and stopped (with every session
 * process it forked) by `stop()`. Logs in as {@link loginUser}.
 */
export class TestSshd {
  readonly dir: string;
  readonly hostKey: KeyPair;
  readonly clientKey: KeyPair;
  readonly user = loginUser();
  port = 0;
  #child: ChildProcess | null = null;
  #configPath: string;
  #logPath: string;

  constructor() {
    requireOpenSsh();
    this.dir = mkdtempSync(join(tmpdir(), "ssh-relay-sshd-"));
    // sshd reads authorized_keys as the user logging in: the directory must let it through.
    chmodSync(this.dir, 0o711);
    this.hostKey = generateKey(this.dir, "host_key");
    this.clientKey = generateKey(this.dir, "client_key");
    writeFileSync(join(this.dir, "authorized_keys"), `${this.clientKey.publicKey}\n`, { mode: 0o644 });
    this.#configPath = join(this.dir, "sshd_config");
    this.#logPath = join(this.dir, "sshd.log");
    writeFileSync(
      this.#configPath,
      [
        `HostKey ${this.hostKey.path}`,
        `PidFile ${join(this.dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(this.dir, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The temp dir lives under /tmp, which StrictModes would reject.
        "StrictModes no",
        "MaxSessions 32",
        "MaxStartups 64",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
  }

  /** The target a relay request names, pinned to this sshd's host key (or another key). */
  target(overrides: Partial<SshTarget> = {}): SshTarget {
    return { name: "test-host", address: "127.0.0.1", port: this.port, user: this.user, host_key: this.hostKey.publicKey, ...overrides };
  }

  async start(port?: number): Promise<void> {
    this.port = port ?? (this.port || (await freePort()));
    // The privilege-separation directory lives on a tmpfs; sshd refuses to start without it.
    if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const log = openSync(this.#logPath, "a");
    const child = spawn(
      SSHD,
      ["-D", "-e", "-p", String(this.port), "-o", "ListenAddress=127.0.0.1", "-h", this.hostKey.path, "-f", this.#configPath],
      { stdio: ["ignore", log, log] },
    );
    closeSync(log);
    this.#child = child;
    const deadline = Date.now() + 10_000;
    while (!(await answersSsh(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) at start: ${this.log()}\n(${MISSING})`);
      }
      if (Date.now() > deadline) throw new Error(`sshd did not answer on 127.0.0.1:${this.port} within 10 s: ${this.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the listener and every session process it forked (their TCP connections drop). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child?.pid || child.exitCode !== null) return;
    const pids = [...descendants(child.pid), child.pid];
    const exited = new Promise((resolve) => child.once("exit", resolve));
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await exited;
  }

  /** SIGSTOP (or SIGCONT) every session process, leaving the listener alone: a peer that stops answering. */
  signalSessions(signal: "SIGSTOP" | "SIGCONT"): number {
    const pids = this.#child?.pid ? descendants(this.#child.pid) : [];
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
    return pids.length;
  }

  /** stop() then start() on the same port with the same keys. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start(this.port);
  }

  log(): string {
    try {
      return readFileSync(this.#logPath, "utf8").slice(-2000);
    } catch {
      return "";
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every process below PID, found through /proc's children lists. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [...descendants(child), child]);
}

function answersSsh(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(data.toString("latin1").startsWith("SSH-")));
  });
}
