#!/usr/bin/env node
// `npm start`: the controller on http://127.0.0.1:8787 with local D1 and Durable Objects, and the
// ssh-relay beside it on 127.0.0.1:8788. Creates .dev.vars from .dev.vars.example when missing,
// applies D1 migrations to the local database (idempotent), then runs both until interrupted.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";

const port = process.env.PORT ?? "8787";

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

const config = ["--config", "wrangler.dev.toml"]; // wrangler.toml is production (it adds the relay Container)
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...config], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// The relay: its port from SSH_RELAY_URL, its token and key from .dev.vars (SSH_PRIVATE_KEY, or a file in SSH_PRIVATE_KEY_FILE).
const vars = devVars();
const relayUrl = new URL(vars.SSH_RELAY_URL ?? "http://127.0.0.1:8788");
const keyFile = vars.SSH_PRIVATE_KEY_FILE?.replace(/^~(?=\/)/, homedir());
const privateKey = vars.SSH_PRIVATE_KEY ?? (keyFile && existsSync(keyFile) ? readFileSync(keyFile, "utf8") : "");
if (!privateKey) console.log("ssh-relay: no SSH_PRIVATE_KEY or SSH_PRIVATE_KEY_FILE in .dev.vars; ssh hosts will answer auth_failed");
const relay = spawn("node", ["ssh-relay/src/index.ts"], {
  stdio: "inherit",
  env: { ...process.env, HOST: relayUrl.hostname, PORT: relayUrl.port || "8788", SSH_RELAY_TOKEN: vars.SSH_RELAY_TOKEN ?? "", SSH_PRIVATE_KEY: privateKey },
});

const dev = spawn("wrangler", ["dev", ...config, "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)], { stdio: "inherit" });
const children = [relay, dev];
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => children.forEach((child) => child.kill(signal)));
for (const child of children) {
  child.on("exit", (code, signal) => {
    // Either one ending ends both: a controller without its relay (or the reverse) is not what was started.
    children.forEach((other) => other !== child && other.kill("SIGTERM"));
    process.exit(code ?? (signal ? 0 : 1));
  });
}
