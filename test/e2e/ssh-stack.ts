import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { TestSshd } from "../../ssh-relay/test/helpers/sshd.ts";
import { api, freePort, startController, type Controller } from "./controller.ts";

export const RELAY_TOKEN = "e2e-relay-token";
const ROOT = join(import.meta.dirname, "..", "..");

/** The real ssh-relay as a process (node ssh-relay/src/index.ts), stoppable and restartable. */
export class RelayProcess {
  private child: ChildProcess | null = null;
  output = "";

  readonly port: number;
  private readonly privateKey: string;

  constructor(port: number, privateKey: string) {
    this.port = port;
    this.privateKey = privateKey;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [join(ROOT, "ssh-relay/src/index.ts")], {
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(this.port), SSH_RELAY_TOKEN: RELAY_TOKEN, SSH_PRIVATE_KEY: this.privateKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    this.child = child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ssh-relay exited (${child.exitCode}): ${this.output}`);
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`ssh-relay did not answer: ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** kill -9: no graceful end for what it was doing. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
}

export interface SshStack {
  sshd: TestSshd;
  relay: RelayProcess;
  controller: Controller;
  /** apps.yaml for one ssh host `ssh-e2e` (this sshd) and one app deploying the test images. */
  config(options?: { hostKey?: string; port?: number }): string;
  appPort: number;
  container: string;
  dispose(): Promise<void>;
}

/** A real sshd (throwaway keys, 127.0.0.1), the real relay, and wrangler dev pointed at it. */
export async function startSshStack(name: string): Promise<SshStack> {
  const sshd = new TestSshd();
  await sshd.start();
  const relay = new RelayProcess(await freePort(), sshd.clientKey.privateKey);
  await relay.start();
  const controller = await startController({ vars: { SSH_RELAY_URL: relay.url, SSH_RELAY_TOKEN: RELAY_TOKEN } });
  const appPort = await freePort();
  const container = `deploybot-${name}-${process.pid}`;
  const config = ({ hostKey = sshd.hostKey.publicKey, port = sshd.port } = {}) => `version: 1
defaults: { lease: 30s, retries: 1 }
hosts:
  ssh-e2e:
    mode: ssh
    ssh: { address: 127.0.0.1, port: ${port}, user: ${sshd.user}, host_key: "${hostKey}" }
apps:
  hello:
    repo: acme/hello
    branches: ["*"]
    tags: ["*"]
    hosts: [ssh-e2e]
    deploy:
      image: "127.0.0.1:5000/deploybot/hello:{branch}"
      container: ${container}
      ports: ["127.0.0.1:${appPort}:80"]
      env: { QUOTED: "it's \\"quoted\\"\\nline two $(id) \`id\`; touch /tmp/deploybot-pwned-env" }
      health: { url: "http://127.0.0.1:${appPort}/up", timeout: 10s }
`;
  const put = await api(controller, "/v1/config", { method: "PUT", body: config(), headers: { "content-type": "application/yaml" } });
  if (put.status !== 200) throw new Error(`config: ${put.status} ${await put.text()}`);
  return {
    sshd,
    relay,
    controller,
    config,
    appPort,
    container,
    async dispose() {
      await controller.dispose();
      await relay.kill();
      await sshd.stop();
    },
  };
}
