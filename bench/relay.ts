// The ssh-relay: a command over its pooled connection against a fresh `ssh host true` (OpenSSH), and a
// deploy through the relay against the same docker commands run by hand, in the same run.
import { spawnSync } from "node:child_process";
import { api, freePort } from "../test/e2e/controller.ts";
import { RELAY_TOKEN, startSshStack } from "../test/e2e/ssh-stack.ts";
import { ms, summary } from "./lib.ts";

const RUNS = Number(process.env.BENCH_RELAY_RUNS ?? 30);
const DEPLOYS = Number(process.env.BENCH_RELAY_DEPLOYS ?? 3);
const IMAGE = "127.0.0.1:5000/deploybot/hello:v1";

async function relayCall(url: string, path: string, body: unknown): Promise<string> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${RELAY_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return text;
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function waitHealthy(port: number) {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/up`)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchRelay(): Promise<string> {
  const stack = await startSshStack("bench-relay");
  try {
    const target = { name: "ssh-e2e", address: "127.0.0.1", port: stack.sshd.port, user: stack.sshd.user, host_key: stack.sshd.hostKey.publicKey };
    await relayCall(stack.relay.url, "/v1/exec", { target, command: "true" }); // opens the pooled connection
    const pooled: number[] = [];
    const viaWorker: number[] = [];
    const fresh: number[] = [];
    const multiplexed: number[] = [];
    const muxArgs = ["-o", `ControlPath=${stack.sshd.dir}/cm-%C`, "-o", "ControlMaster=auto", "-o", "ControlPersist=60"];
    const sshArgs = ["-i", stack.sshd.clientKey.path, "-p", String(stack.sshd.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${stack.sshd.user}@127.0.0.1`, "true"];
    for (let i = 0; i < RUNS; i++) {
      pooled.push(await timed(() => relayCall(stack.relay.url, "/v1/exec", { target, command: "true" })));
      viaWorker.push(
        await timed(async () => {
          const res = await api(stack.controller, "/v1/ssh/execute", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ host: "ssh-e2e", command: "true" }) });
          if (res.status !== 200) throw new Error(`execute: ${res.status}`);
          await res.text();
        }),
      );
      fresh.push(
        await timed(() => {
          const run = spawnSync("ssh", sshArgs, { encoding: "utf8" });
          if (run.status !== 0) throw new Error(`ssh: ${run.stderr}`);
        }),
      );
      if (i === 0) spawnSync("ssh", [...muxArgs, ...sshArgs]); // opens the master connection
      multiplexed.push(
        await timed(() => {
          const run = spawnSync("ssh", [...muxArgs, ...sshArgs], { encoding: "utf8" });
          if (run.status !== 0) throw new Error(`ssh (multiplexed): ${run.stderr}`);
        }),
      );
    }
    spawnSync("ssh", [...muxArgs, "-O", "exit", ...sshArgs.slice(0, -1)]);

    // Deploy: a first deploy of the same local image through the relay, and the same steps by hand.
    const relayDeploys: number[] = [];
    const byHand: number[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      const port = await freePort();
      const name = `deploybot-bench-relay-${process.pid}-${i}`;
      relayDeploys.push(
        await timed(() =>
          relayCall(stack.relay.url, "/v1/deploy", {
            target,
            job_id: `bench-${i}`,
            attempt: 1,
            deploy: { image: IMAGE, container: name, ports: [`127.0.0.1:${port}:80`], env: {}, health: { url: `http://127.0.0.1:${port}/up`, timeout: 30 } },
          }),
        ),
      );
      spawnSync("docker", ["rm", "-f", name]);
      const handPort = await freePort();
      byHand.push(
        await timed(async () => {
          spawnSync("docker", ["pull", "-q", IMAGE]);
          spawnSync("docker", ["run", "-d", "--name", `${name}-hand`, "-p", `127.0.0.1:${handPort}:80`, IMAGE]);
          await waitHealthy(handPort);
        }),
      );
      spawnSync("docker", ["rm", "-f", `${name}-hand`]);
    }
    const p = summary(pooled);
    const w = summary(viaWorker);
    const f = summary(fresh);
    const m = summary(multiplexed);
    const d = summary(relayDeploys);
    const h = summary(byHand);
    return [
      "## ssh-relay",
      "",
      `A command (\`true\`) ${RUNS} times each: over the relay's pooled SSH connection, through the Worker (\`POST /v1/ssh/execute\` → relay), and as a fresh \`ssh host true\` (OpenSSH client, new connection each time), against the same local sshd. Target: pooled ≤ 0.3× fresh.`,
      "",
      "| how | p50 | p90 | max |",
      "| --- | --- | --- | --- |",
      `| relay, pooled connection | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.max)} |`,
      `| Worker → relay, pooled | ${ms(w.p50)} | ${ms(w.p90)} | ${ms(w.max)} |`,
      `| fresh \`ssh host true\` | ${ms(f.p50)} | ${ms(f.p90)} | ${ms(f.max)} |`,
      `| OpenSSH multiplexed (ControlMaster, no handshake): the cost of one session on this sshd | ${ms(m.p50)} | ${ms(m.p90)} | ${ms(m.max)} |`,
      "",
      `**Ratio pooled / fresh at p50: ${(p.p50 / f.p50).toFixed(2)}** (through the Worker: ${(w.p50 / f.p50).toFixed(2)}). Every way pays the sshd's cost of a session (fork, the login user's shell); the multiplexed one also starts an \`ssh\` client per command: pooled / multiplexed = ${(p.p50 / m.p50).toFixed(2)}. Sessions log in as \`${stack.sshd.user}\`${stack.sshd.user === "root" ? "" : " (a deploy user with Debian's default dotfiles, made by scripts/services/sshd.sh)"}: a login user whose shell start-up scripts are slow adds them to every session, pooled or not (root's \`pyenv init\` on these machines: about 120 ms).`,
      "",
      `A first deploy of a local image (pull, run, health wait on /up), ${DEPLOYS} times: through the relay over SSH (its steps, checks, labels and log), and the same \`docker pull\` + \`docker run\` + polling /up by hand on the host.`,
      "",
      "| how | p50 | max |",
      "| --- | --- | --- |",
      `| relay deploy | ${ms(d.p50)} | ${ms(d.max)} |`,
      `| by hand | ${ms(h.p50)} | ${ms(h.max)} |`,
      "",
      `Overhead of the relay at p50: ${ms(d.p50 - h.p50)} (ratio ${(d.p50 / h.p50).toFixed(2)}): each step is its own SSH session (about one multiplexed-session cost each), plus the relay's checks (which of curl/wget exists, the running container, the image) that a person typing the commands skips.`,
      "",
    ].join("\n");
  } finally {
    await stack.dispose();
  }
}
