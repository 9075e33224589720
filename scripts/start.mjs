#!/usr/bin/env node
// `npm start`: the controller on http://127.0.0.1:$PORT (default 8787) with local D1 and Durable Objects
// under .wrangler/state, and the ssh-relay beside it on 127.0.0.1:8788. Creates .dev.vars from
// .dev.vars.example when missing, applies D1 migrations to the local database (idempotent), bundles the
// Worker as `wrangler deploy` would and serves it with workerd (scripts/local-worker.mjs), then runs
// until interrupted. LOG_FILE=path appends the request log there too. `npm run dev` is the hot-reload loop.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homedir } from "node:os";
import { inspectorAddress, prepareWorker, runWorker } from "./local-worker.mjs";

const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`PORT must be a TCP port number (1-65535), not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
let inspector;
try {
  inspector = inspectorAddress();
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (development secrets; edit as you like)");
}

/** KEY=VALUE lines of .dev.vars (comments and blank lines skipped; no quoting rules beyond that). */
function devVars() {
  const vars = {};
  for (const line of readFileSync(".dev.vars", "utf8").split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && !line.trimStart().startsWith("#")) vars[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

const config = "wrangler.dev.toml"; // wrangler.toml is production (it adds the relay Container)
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--config", config], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const outdir = ".wrangler/start";
let worker;
try {
  prepareWorker(config, outdir);
  worker = await runWorker({ outdir, port, logFile: process.env.LOG_FILE, inspector });
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
// workerd is a child: it ends with this process, however this process ends (the relay's own signal handlers
// exit it once its connections are closed).
process.on("exit", () => {
  worker.kill("SIGTERM");
  rmSync(pidFile, { force: true });
});
// `npm run restore` refuses to swap the state under a running controller: this file says one runs.
const pidFile = join(outdir, "pid");
writeFileSync(pidFile, String(process.pid));
worker.on("exit", (code) => {
  console.error(`workerd exited (${code ?? "signal"}): the controller stops`);
  process.exit(code || 1);
});

// The relay runs in this process (a second Node would cost about 50 MiB more): its port from SSH_RELAY_URL,
// its token and key from .dev.vars (SSH_PRIVATE_KEY, or a file in SSH_PRIVATE_KEY_FILE). It reads its settings
// from the environment, which is set only now, after workerd started, so the key never reaches workerd.
const vars = devVars();
const relayUrl = new URL(vars.SSH_RELAY_URL ?? "http://127.0.0.1:8788");
const keyFile = vars.SSH_PRIVATE_KEY_FILE?.replace(/^~(?=\/)/, homedir());
const privateKey = vars.SSH_PRIVATE_KEY ?? (keyFile && existsSync(keyFile) ? readFileSync(keyFile, "utf8") : "");
if (!privateKey) console.log("ssh-relay: no SSH_PRIVATE_KEY or SSH_PRIVATE_KEY_FILE in .dev.vars; ssh hosts will answer auth_failed");
Object.assign(process.env, { HOST: relayUrl.hostname, PORT: relayUrl.port || "8788", SSH_RELAY_TOKEN: vars.SSH_RELAY_TOKEN ?? "", SSH_PRIVATE_KEY: privateKey });
await import("../ssh-relay/src/index.ts");
console.log(`DeployBot controller on http://127.0.0.1:${port} (state in .wrangler/state; Ctrl-C stops it)`);
