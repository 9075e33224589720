// What the test suites need from the machine, checked before `npm test` runs them, and brought up when missing:
// as root by running the idempotent scripts/services/*.sh (docker, sshd, chromium, caddy); otherwise by stopping at once with the one command
// to run. The .NET SDK is the exception: no service script installs it (see the README).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";

const REGISTRY = "http://127.0.0.1:5000";
const TEST_IMAGE_TAGS = ["v1", "v2", "broken", "slow", "keepalive"]; // scripts/services/docker.sh pushes these (its TAGS)

/** GET over HTTP (or a unix socket): the status, or 0 when nothing answers within 3 s. */
function get(options) {
  return new Promise((resolve) => {
    const req = request({ ...options, method: "GET", timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}

const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

/** Each service script with the check that says its work is done. */
const SERVICES = {
  docker: {
    what: "the Docker engine, the registry on 127.0.0.1:5000 and its test images",
    ready: async () => {
      if ((await get({ socketPath: "/var/run/docker.sock", path: "/_ping" })).status !== 200) return false;
      const tags = await get({ host: "127.0.0.1", port: 5000, path: "/v2/deploybot/hello/tags/list" });
      return tags.status === 200 && TEST_IMAGE_TAGS.every((tag) => tags.body.includes(`"${tag}"`));
    },
  },
  sshd: {
    what: "OpenSSH's sshd and the deploy user deploybot-ssh",
    ready: async () =>
      existsSync("/usr/sbin/sshd") && existsSync("/run/sshd") && has("ssh-keygen") && spawnSync("id", ["deploybot-ssh"], { stdio: "ignore" }).status === 0,
  },
  chromium: { what: "Chromium for the dashboard tests", ready: async () => existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium") },
  caddy: {
    what: "Caddy and net.ipv4.tcp_migrate_req=1 for the zero-downtime deploy tests",
    ready: async () => has("caddy") && spawnSync("cat", ["/proc/sys/net/ipv4/tcp_migrate_req"], { encoding: "utf8" }).stdout.trim() === "1",
  },
};

/** The services each suite uses (the worker suite runs inside workerd and needs none). */
export const SUITE_SERVICES = {
  worker: [],
  e2e: ["docker", "sshd", "chromium", "caddy"],
  relay: ["docker", "sshd", "caddy"],
  agent: ["docker", "caddy"],
  faults: ["docker", "sshd"],
};
const NEEDS_DOTNET = ["e2e", "agent"];

/**
 * Makes sure the services the given suites need are up. Returns null when they are, else the message to
 * print (nothing is run then). As root, missing services are installed and started first.
 */
export async function ensureServices(suites, { isRoot = process.getuid?.() === 0, log = console.log } = {}) {
  const names = [...new Set(suites.flatMap((suite) => SUITE_SERVICES[suite] ?? []))];
  const missing = [];
  for (const name of names) if (!(await SERVICES[name].ready())) missing.push(name);
  const problems = [];
  if (missing.length > 0) {
    const scripts = missing.map((name) => `bash scripts/services/${name}.sh`);
    if (isRoot) {
      for (const [i, name] of missing.entries()) {
        log(`services: ${SERVICES[name].what} missing; running ${scripts[i]}`);
        const run = spawnSync("bash", [`scripts/services/${name}.sh`], { stdio: "inherit" });
        if (run.status !== 0 || !(await SERVICES[name].ready())) problems.push(`${scripts[i]} did not bring up ${SERVICES[name].what}`);
      }
    } else {
      const command = scripts.length === 1 ? `sudo ${scripts[0]}` : `sudo sh -c '${scripts.join(" && ")}'`;
      problems.push(`not available (missing, or out of this user's reach): ${missing.map((name) => SERVICES[name].what).join("; ")}.\nRun this once (as root; it installs and starts them), then npm test again:\n  ${command}`);
    }
  }
  if (suites.some((suite) => NEEDS_DOTNET.includes(suite)) && !has("dotnet")) {
    problems.push("missing: the .NET SDK 10 (dotnet on PATH), which the agent's suites build with; no service script installs it (see the README)");
  }
  return problems.length > 0 ? problems.join("\n") : null;
}
