import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, requireOpenSsh, TestSshd } from "./helpers/sshd.ts";
import { post, TOKEN } from "./helpers/relay.ts";
import type { ReachabilityInfo } from "../src/reachability.ts";
import { SshPool, type SshTarget } from "../src/pool.ts";
import { createRelayServer } from "../src/server.ts";

// POST /v1/reachability against a real sshd: what the pool knows about each target, and the checks it
// starts for targets it knows nothing recent about.

requireOpenSsh();

let sshd: TestSshd;
let pool: SshPool;
let url: string;
let close: () => Promise<void>;

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  // Targets with no open connection are checked again after 300 ms (30 s by default).
  pool = new SshPool({ privateKey: sshd.clientKey.privateKey, readyTimeoutMs: 5_000, reachability: { recheckMs: 300 } });
  const server = createRelayServer({ token: TOKEN, pool });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    pool.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
});
after(async () => {
  await close?.();
  await sshd?.dispose();
});

async function reach(targets: SshTarget[]): Promise<ReachabilityInfo[]> {
  const res = await post(`${url}/v1/reachability`, { targets });
  assert.equal(res.status, 200);
  return ((await res.json()) as { hosts: ReachabilityInfo[] }).hosts;
}

/** Asks until the answer for the one target is no longer `reachable` WAS (the pool's check finished). */
async function settled(target: SshTarget, was: boolean | null): Promise<ReachabilityInfo> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [info] = await reach([target]);
    if (info!.reachable !== was) return info!;
    if (Date.now() > deadline) throw new Error(`still ${was} after 15 s: ${JSON.stringify(info)}`);
    await sleep(100);
  }
}

describe("reachability", () => {
  it("knows nothing of a new target at first, then that it is reachable and since when", async () => {
    const target = sshd.target({ name: "fresh" });
    const [first] = await reach([target]);
    assert.deepEqual(first, { name: "fresh", reachable: null, last_connected_at: null, unreachable_since: null, error: null });
    const info = await settled(target, null);
    assert.equal(info.reachable, true);
    assert.ok(Date.now() - Date.parse(info.last_connected_at!) < 15_000);
    assert.equal(info.unreachable_since, null);
    assert.equal(info.error, null);
  });

  it("reports an address that does not answer as unreachable with the error, dated from the first failure", async () => {
    const target = sshd.target({ name: "nobody-home", port: await freePort() });
    await reach([target]);
    const down = await settled(target, null);
    assert.equal(down.reachable, false);
    assert.equal(down.error?.code, "connect_failed");
    assert.match(down.error!.message, /could not connect to nobody-home \(127\.0\.0\.1:\d+\)/);
    assert.equal(down.last_connected_at, null);
    await sleep(400); // past recheckMs: the next question starts another attempt, which fails too
    await reach([target]);
    await sleep(500);
    const [still] = await reach([target]);
    assert.equal(still!.reachable, false);
    assert.equal(still!.unreachable_since, down.unreachable_since);
  });

  it("turns unreachable when the host stops answering, keeps the last good connection, and comes back", async () => {
    const target = sshd.target({ name: "flaky" });
    await reach([target]);
    const up = await settled(target, null);
    assert.equal(up.reachable, true);

    const port = sshd.port;
    await sshd.stop(); // its sessions end too: the pooled connection closes
    await sleep(400);
    const down = await settled(target, true);
    assert.equal(down.reachable, false);
    assert.equal(down.last_connected_at, up.last_connected_at);
    assert.ok(down.unreachable_since && Date.parse(down.unreachable_since) >= Date.parse(up.last_connected_at!));
    assert.equal(down.error?.code, "connect_failed");

    await sshd.start(port);
    await sleep(400);
    const back = await settled(target, false);
    assert.equal(back.reachable, true);
    assert.ok(Date.parse(back.last_connected_at!) > Date.parse(up.last_connected_at!));
    assert.equal(back.unreachable_since, null);
  });

  it("reports a refused login or host key as unreachable, with the reason", async () => {
    const other = sshd.target({ name: "wrong-pin", host_key: sshd.clientKey.publicKey });
    await reach([other]);
    const refused = await settled(other, null);
    assert.equal(refused.reachable, false);
    assert.equal(refused.error?.code, "host_key_mismatch");
  });

  it("refuses a bad question with 400, and an unknown caller with 401", async () => {
    const notArray = await post(`${url}/v1/reachability`, { targets: "host-1" });
    assert.equal(notArray.status, 400);
    assert.match(((await notArray.json()) as { error: { message: string } }).error.message, /targets must be an array/);
    const badTarget = await post(`${url}/v1/reachability`, { targets: [{ name: "x" }] });
    assert.equal(badTarget.status, 400);
    assert.match(((await badTarget.json()) as { error: { message: string } }).error.message, /targets\.0\.address/);
    assert.equal((await post(`${url}/v1/reachability`, { targets: [] }, "wrong")).status, 401);
  });
});
