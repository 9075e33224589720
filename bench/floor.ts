// The local runtime's own floor under the fan-out: a Worker whose one request calls N Durable Objects at
// once, each doing the least a host's enqueue must do (answer one RPC after one durable SQLite write),
// against N = 1, in the same run. Nothing of DeployBot runs here: it says what ratio any design with one
// Durable Object per host can reach when workerd runs every object on one thread, as it does locally.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { ms, summary } from "./lib.ts";

const HOSTS = 100;
const RUNS = Number(process.env.BENCH_FANOUT_RUNS ?? 15);

const script = `
import { DurableObject } from "cloudflare:workers";
export class Spot extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  }
  touch(write) {
    if (write) this.ctx.storage.sql.exec("INSERT INTO t (k, v) VALUES ('n', 1) ON CONFLICT (k) DO UPDATE SET v = v + 1");
    else this.ctx.storage.sql.exec("SELECT v FROM t WHERE k = 'n'").toArray();
    return 1;
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    const write = url.searchParams.get("write") === "1";
    const done = await Promise.all(Array.from({ length: n }, (_, i) => env.SPOT.get(env.SPOT.idFromName("spot-" + i)).touch(write)));
    return new Response(String(done.length));
  },
};`;

export async function benchFloor(): Promise<string> {
  const state = mkdtempSync(join(tmpdir(), "deploybot-floor-"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [{ name: "floor", modules: true, script, compatibilityDate: "2026-11-01", durableObjects: { SPOT: { className: "Spot", useSQLite: true } } }],
      resourcePersistencePath: state,
      logRequests: false,
    }),
  );
  try {
    const time = async (n: number, write: boolean) => {
      const t0 = performance.now();
      const res = await mf.dispatchFetch(`http://floor.local/?n=${n}&write=${write ? 1 : 0}`);
      if ((await res.text()) !== String(n)) throw new Error(`floor: ${res.status}`);
      return performance.now() - t0;
    };
    await time(HOSTS, true); // warm-up: creates the objects
    const rows: string[] = [];
    const perObject: string[] = [];
    for (const write of [false, true]) {
      const one: number[] = [];
      const many: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        one.push(await time(1, write));
        many.push(await time(HOSTS, write));
      }
      const a = summary(one);
      const b = summary(many);
      const each = (b.p50 - a.p50) / (HOSTS - 1);
      rows.push(`| one SQLite ${write ? "write" : "read"} | ${ms(a.p50)} | ${ms(b.p50)} | ${(b.p50 / a.p50).toFixed(1)} | **${each.toFixed(2)} ms** |`);
      perObject.push(`${each.toFixed(2)} ms with a ${write ? "write" : "read"}`);
    }
    return [
      "## The local runtime's floor under the fan-out",
      "",
      `Not DeployBot: a Worker of a dozen lines whose request calls N Durable Objects at once (Promise.all), each answering one RPC after one SQLite statement, under workerd as Miniflare runs it (the runtime of \`npm start\` and \`wrangler dev\`), N = 1 and N = ${HOSTS}, ${RUNS} requests each, alternating. Locally workerd runs the Worker and every object on one thread, so ${HOSTS} objects cost ${HOSTS} times their work (on Cloudflare each object runs on its own). A host's enqueue must at least do what the "write" row does: a job is durable in its host's object before the push is answered. Each further object costs:`,
      "",
      `| each object does | N = 1, p50 | N = ${HOSTS}, p50 | ratio | each further object |`,
      "| --- | --- | --- | --- | --- |",
      ...rows,
      "",
      `Compare with the fan-out's cost of each further host (section "Webhook fan-out"): the runtime's own share is ${perObject.join(", ")}. The fan-out's 5x target allows (5 x its 1-host time - its 1-host time) / ${HOSTS - 1} per host.`,
      "",
    ].join("\n");
  } finally {
    await mf.dispose();
    rmSync(state, { recursive: true, force: true });
  }
}
