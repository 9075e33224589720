// The controller Worker for `npm start`: the production bundle (what `wrangler deploy` would upload) run by
// workerd alone, with the local D1 and Durable Object state that `wrangler dev` uses too (.wrangler/state).
//
// Why not `wrangler dev`: the dev server keeps every console line in its inspector session (about 170 KB
// each, never given back), and the controller writes one line per request, so it grows for as long as it
// serves; wrangler, esbuild and Miniflare also stay resident (several hundred MiB). Here Miniflare only
// prepares: it turns wrangler.dev.toml into workerd's configuration (D1 and Durable Objects as Miniflare
// simulates them, persisted where wrangler dev keeps them), which is saved and Miniflare exits. workerd then
// runs with no inspector (unless DEPLOYBOT_WORKERD_INSPECTOR asks, for diagnosis) and no Node beside it; each
// console line goes to stdout (and a file if asked).
// BENCHMARKS.md ("npm start for 30 minutes") has the measurements behind this choice.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** Where local state lives: the same directory `wrangler dev` and `wrangler d1 ... --local` use. */
export const STATE_DIR = ".wrangler/state";

const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };

/**
 * V8's settings for the controller's workerd. Each request leaves objects behind in the isolates it crossed
 * (Miniflare's entry and assets workers, ours, D1's) that own memory outside V8's heap, in workerd's malloc;
 * V8 does not count it, so with live heaps of a few MiB it rarely runs the full collection that would free
 * it, and workerd grew ~17 MiB a minute under the soak. `--gc-global` makes every collection a full one,
 * which frees that memory as it goes (the soak: +23 MiB in 30 minutes instead of +524, for about half as much
 * CPU again; BENCHMARKS.md, "npm start for 30 minutes"). A young generation of 1 MiB a semi-space (default 16) keeps those collections frequent and
 * each isolate's young generation small.
 */
export const WORKERD_V8_FLAGS = "--max-semi-space-size=1 --gc-global";

/**
 * Bundles the Worker exactly as `wrangler deploy` would (`--dry-run --outdir`) into `outdir`, then has
 * Miniflare (in a child process, so none of it stays resident here) write workerd's configuration for it:
 * `outdir/workerd.capnp` and the workerd binary's path in `outdir/workerd.bin`. Throws with the output on failure.
 * Options (the benchmarks' controller uses them): `stateDir` for D1 and the Durable Objects, `vars` added to the
 * Worker's variables (over .dev.vars), `v8Flags` for workerd's V8.
 */
export function prepareWorker(config, outdir, { stateDir = STATE_DIR, vars = {}, v8Flags = process.env.DEPLOYBOT_WORKERD_V8_FLAGS ?? WORKERD_V8_FLAGS } = {}) {
  const build = spawnSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir, "--config", config], { encoding: "utf8", env });
  if (build.status !== 0) throw new Error(`bundling the Worker failed:\n${build.stdout}${build.stderr}`);
  // Miniflare's scratch directory (named in the configuration) goes under outdir, where it outlives the capture.
  const tmp = join(outdir, "tmp");
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const capture = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--capture", config, outdir], {
    encoding: "utf8",
    // Written into the configuration as workerd's v8Flags (DEPLOYBOT_WORKERD_V8_FLAGS replaces them).
    env: { ...env, TMPDIR: resolve(tmp), MINIFLARE_WORKERD_V8_FLAGS: v8Flags, DEPLOYBOT_CAPTURE_STATE: stateDir, DEPLOYBOT_CAPTURE_VARS: JSON.stringify(vars) },
  });
  if (capture.signal !== "SIGKILL" || !existsSync(join(outdir, "workerd.capnp"))) {
    throw new Error(`preparing workerd's configuration failed:\n${capture.stdout}${capture.stderr}`);
  }
}

/**
 * DEPLOYBOT_WORKERD_INSPECTOR, for diagnosis only (off by default): `127.0.0.1:PORT` opens workerd's inspector
 * there (heap snapshots of each isolate). Whoever reaches it can run code in the Worker, so only loopback is
 * accepted. Returns the address or null; throws on anything else.
 */
export function inspectorAddress(value = process.env.DEPLOYBOT_WORKERD_INSPECTOR) {
  if (!value) return null;
  const match = /^127\.0\.0\.1:(\d{1,5})$/.exec(value);
  if (!match || Number(match[1]) < 1 || Number(match[1]) > 65535) {
    throw new Error(`DEPLOYBOT_WORKERD_INSPECTOR must be 127.0.0.1:PORT (the inspector can run code in the Worker), not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Runs workerd on host:port with the configuration prepareWorker() wrote. The Worker's console lines (workerd's
 * structured logs) are written to stdout (unless `quiet`), and appended to `logFile` when given; `inspector` (see
 * inspectorAddress) opens workerd's inspector. Resolves with the workerd child once /health answers.
 */
export async function runWorker({ outdir, host = "127.0.0.1", port, logFile, inspector = null, quiet = false }) {
  // Miniflare's configuration names a "loopback" service (its Node side, for features this Worker does not use).
  // Nothing should call it; if something does, it is answered 501 and reported rather than hanging.
  const loopback = createServer((req, res) => {
    console.error(`workerd called Miniflare's loopback (${req.method} ${req.url}); answered 501`);
    res.writeHead(501).end();
  });
  await new Promise((r) => loopback.listen(0, "127.0.0.1", r));
  loopback.unref();
  // The Worker's own socket on host:port (see capture). Miniflare's entry socket must have an address: any free
  // loopback port; nothing calls it.
  const args = ["serve", "--binary", "--experimental", `--socket-addr=direct:0:default=${host}:${port}`, "--socket-addr=entry=127.0.0.1:0", `--external-addr=loopback=127.0.0.1:${loopback.address().port}`];
  if (inspector) args.push(`--inspector-addr=${inspector}`);
  args.push("-");
  const workerd = spawn(readFileSync(join(outdir, "workerd.bin"), "utf8"), args, {
    stdio: [openSync(join(outdir, "workerd.capnp"), "r"), "pipe", "pipe"],
  });
  const file = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
  for (const [stream, out] of [[workerd.stdout, process.stdout], [workerd.stderr, process.stderr]]) {
    createInterface({ input: stream }).on("line", (line) => {
      const text = structuredMessage(line);
      if (!quiet) out.write(`${text}\n`);
      file?.write(`${text}\n`);
    });
  }
  await waitForHealth(`http://${host}:${port}/health`, workerd);
  return workerd;
}

/** workerd's --structured-logging line `{"timestamp","level","message"}` → its message; any other line as it is. */
function structuredMessage(line) {
  try {
    const parsed = JSON.parse(line);
    return typeof parsed?.message === "string" ? parsed.message : line;
  } catch {
    return line;
  }
}

async function waitForHealth(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}) before it served`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`the controller did not answer ${url} within ${timeoutMs / 1000} s`);
}

/**
 * The capture step (a child of prepareWorker): Miniflare builds workerd's configuration from the wrangler
 * config and hands it to workerd on stdin. MINIFLARE_WORKERD_PATH points it at scripts/workerd-capture.sh,
 * which saves that configuration and runs the real workerd, so Miniflare sees a normal start; then it stops.
 */
async function capture(config, outdir) {
  const { Miniflare, convertV4MiniflareOptions } = await import("miniflare");
  const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import("wrangler");
  // workerd as Miniflare resolves it (its own dependency).
  const workerd = createRequire(import.meta.resolve("miniflare"))("workerd").default;
  const parsed = unstable_readConfig({ config });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(parsed);
  workerOptions.bindings = { ...workerOptions.bindings, ...JSON.parse(process.env.DEPLOYBOT_CAPTURE_VARS || "{}") };
  // Module rules are for bundling; the bundle is already split into its modules: list them instead.
  delete workerOptions.modulesRules;
  const root = resolve(outdir);
  const modules = [{ type: "ESModule", path: join(root, "index.js") }];
  for (const file of readdirSync(root)) if (file.endsWith(".yaml")) modules.push({ type: "Text", path: join(root, file) });

  process.env.MINIFLARE_WORKERD_PATH = fileURLToPath(new URL("./workerd-capture.sh", import.meta.url));
  process.env.DEPLOYBOT_WORKERD = workerd;
  process.env.DEPLOYBOT_WORKERD_CONFIG = join(root, "workerd.capnp");
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      // .dev.vars: read by wrangler's options above, as wrangler dev does.
      // A socket of the Worker's own (`direct:0:default`, which runWorker serves on): requests reach the Worker
      // (through its assets' router, as on Cloudflare) without Miniflare's entry worker, which copies each
      // request and response once more in an isolate of its own, on the same thread (BENCHMARKS.md).
      workers: [{ ...workerOptions, name: parsed.name, modules, modulesRoot: root, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
      host: "127.0.0.1",
      port: 0,
      // wrangler dev keeps D1 under <state>/v3/d1 and each Durable Object class under <state>/v3/do/<worker>-<class>.
      resourcePersistencePath: join(resolve(process.env.DEPLOYBOT_CAPTURE_STATE || STATE_DIR), "v3"),
      logRequests: false,
    }),
  );
  await miniflare.ready;
  writeFileSync(join(root, "workerd.bin"), workerd);
  // Not dispose(): it would delete the scratch directory the configuration names. Stop that workerd, then
  // this process at once, so no exit hook cleans up (prepareWorker expects exactly this SIGKILL).
  process.kill(Number(readFileSync(`${process.env.DEPLOYBOT_WORKERD_CONFIG}.pid`, "utf8")), "SIGKILL");
  process.kill(process.pid, "SIGKILL");
}

if (process.argv[2] === "--capture") await capture(process.argv[3], process.argv[4]);
