#!/usr/bin/env node
// `npm start`: the controller on http://127.0.0.1:8787 with local D1 and Durable Objects.
// Creates .dev.vars from .dev.vars.example when missing, applies D1 migrations to the
// local database (idempotent), then runs `wrangler dev` until interrupted.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";

const port = process.env.PORT ?? "8787";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (development secrets; edit as you like)");
}

const config = ["--config", "wrangler.dev.toml"]; // wrangler.toml is production (it adds the relay Container)
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...config], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const dev = spawn("wrangler", ["dev", ...config, "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
