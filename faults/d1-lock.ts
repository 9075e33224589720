import { spawn, type ChildProcess } from "node:child_process";

/** Another process holding an exclusive write lock on an SQLite file for `seconds` (python3's sqlite3). */
export function holdExclusiveLock(file: string, seconds: number) {
  const child: ChildProcess = spawn("python3", [
    "-c",
    `import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")`,
    file,
    String(seconds),
  ]);
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => String(d).includes("locked") && resolve());
    child.on("exit", (code) => code !== 0 && reject(new Error(`lock holder exited ${code}`)));
  });
  const released = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { ready, released };
}
