// Back up and restore the local controller's state: the D1 database and every Durable Object's SQLite file,
// under .wrangler/state/v3/{d1,do} (where `npm start`, `npm run dev` and `wrangler d1 --local` keep them).
//
//   npm run backup -- FILE.tar.gz     a consistent snapshot, safe while the controller runs
//   npm run restore -- FILE.tar.gz    replaces the state with the snapshot; the controller must be stopped
//
// --state DIR names another state directory (wrangler's --persist-to DIR). A backup copies each database with
// SQLite's `VACUUM INTO` (a transaction-consistent copy, taken through a read-only connection) rather than
// copying files that may be half-written. A restore checks the whole archive first, and moves the state it
// replaces aside (printed), so nothing is lost and bad input changes nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { STATE_DIR } from "./local-worker.mjs";

const PARTS = ["d1", "do"]; // D1, Durable Objects; the cache is not state
const PID_FILE = ".wrangler/start/pid"; // written by npm start

class StateError extends Error {}

/** Every *.sqlite file under dir, as paths relative to it. */
function databases(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith(".sqlite") && statSync(join(dir, file)).isFile());
}

function tar(args) {
  const run = spawnSync("tar", args, { encoding: "utf8" });
  if (run.status !== 0) throw new StateError(`tar ${args[0]} failed: ${run.stderr.trim()}`);
  return run.stdout;
}

/** Writes a snapshot of the state in `stateDir` to `file` (a .tar.gz). Refuses to overwrite a file. */
export function backup(file, stateDir = STATE_DIR) {
  if (existsSync(file)) throw new StateError(`${file} exists; name a new file`);
  const v3 = join(stateDir, "v3");
  const files = PARTS.flatMap((part) => databases(join(v3, part)).map((f) => join(part, f)));
  if (!files.some((f) => f.startsWith("d1/"))) throw new StateError(`no D1 database under ${v3}/d1: nothing to back up (has the controller run here?)`);
  const scratch = mkdtempSync(join(dirname(resolve(file)), ".deploybot-backup-"));
  try {
    for (const f of files) {
      mkdirSync(dirname(join(scratch, "v3", f)), { recursive: true });
      const db = new DatabaseSync(join(v3, f), { readOnly: true });
      try {
        db.prepare("VACUUM INTO ?").run(join(scratch, "v3", f));
      } finally {
        db.close();
      }
    }
    tar(["czf", resolve(file), "-C", scratch, "v3"]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return files.length;
}

/** Replaces the state in `stateDir` with the snapshot in `file`; returns where the replaced state went. */
export function restore(file, stateDir = STATE_DIR) {
  if (!existsSync(file)) throw new StateError(`${file} does not exist`);
  const running = runningController();
  if (running) throw new StateError(`the controller is running (npm start, pid ${running}): stop it first`);
  const entries = tar(["tzf", file]).split("\n").filter(Boolean);
  const outside = entries.find((e) => !PARTS.some((part) => e.startsWith(`v3/${part}/`)) && e !== "v3/" || e.split("/").includes(".."));
  if (outside !== undefined) throw new StateError(`${file} is not a DeployBot backup (it holds ${outside})`);

  mkdirSync(stateDir, { recursive: true });
  const incoming = mkdtempSync(join(stateDir, ".restore-"));
  try {
    tar(["xzf", file, "-C", incoming]);
    const files = PARTS.flatMap((part) => databases(join(incoming, "v3", part)).map((f) => join(part, f)));
    if (!files.some((f) => f.startsWith("d1/"))) throw new StateError(`${file} holds no D1 database`);
    for (const f of files) {
      const db = new DatabaseSync(join(incoming, "v3", f), { readOnly: true });
      try {
        const check = db.prepare("PRAGMA integrity_check").get();
        if (check?.integrity_check !== "ok") throw new StateError(`${f} in ${file} is damaged: ${JSON.stringify(check)}`);
      } finally {
        db.close();
      }
    }
    // Checked: now swap. The current d1/ and do/ go aside, the snapshot's take their place.
    const aside = join(stateDir, `before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    for (const part of PARTS) {
      const current = join(stateDir, "v3", part);
      if (existsSync(current)) {
        mkdirSync(join(aside, "v3"), { recursive: true });
        renameSync(current, join(aside, "v3", part));
      }
      if (existsSync(join(incoming, "v3", part))) {
        mkdirSync(join(stateDir, "v3"), { recursive: true });
        renameSync(join(incoming, "v3", part), current);
      }
    }
    return { files: files.length, aside: existsSync(aside) ? aside : null };
  } finally {
    rmSync(incoming, { recursive: true, force: true });
  }
}

/** The pid of a running `npm start` of this checkout, or null. */
function runningController() {
  if (!existsSync(PID_FILE)) return null;
  const pid = Number(readFileSync(PID_FILE, "utf8"));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

const [command, ...rest] = process.argv.slice(2);
const stateAt = rest.indexOf("--state");
const stateDir = stateAt >= 0 ? rest.splice(stateAt, 2)[1] : STATE_DIR;
const [file] = rest;
if (!["backup", "restore"].includes(command) || !file || rest.length !== 1 || !stateDir) {
  console.error("usage: npm run backup -- FILE.tar.gz [--state DIR]    npm run restore -- FILE.tar.gz [--state DIR]");
  process.exit(2);
}
try {
  if (command === "backup") console.log(`backed up ${backup(file, stateDir)} databases from ${stateDir} to ${file}`);
  else {
    const { files, aside } = restore(file, stateDir);
    console.log(`restored ${files} databases from ${file} into ${stateDir}${aside ? `; the state it replaced is in ${relative(".", aside)}` : ""}`);
  }
} catch (err) {
  if (!(err instanceof StateError)) throw err;
  console.error(`${command}: ${err.message}`);
  process.exit(1);
}
