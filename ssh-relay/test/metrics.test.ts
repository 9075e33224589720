import assert from "node:assert/strict";
import { hostname, totalmem } from "node:os";
import { after, before, describe, it } from "node:test";
import { docker, IMAGES, post, removeContainers, requireDocker, startRelay, type TestRelay } from "./helpers/relay.ts";
import { requireOpenSsh, TestSshd } from "./helpers/sshd.ts";
import type { HostMetrics } from "../src/metrics.ts";

let sshd: TestSshd;
let relay: TestRelay;
const prefix = `sshrelay-m${process.pid}-`;

// At load time, so a missing engine fails the file outright (not "cancelled" tests).
requireDocker();
requireOpenSsh();

before(async () => {
  sshd = new TestSshd();
  await sshd.start();
  relay = await startRelay(sshd.clientKey.privateKey);
  const run = docker("run", "-d", "--name", `${prefix}box`, IMAGES.v1);
  if (run.status !== 0) throw new Error(`docker run failed: ${run.stderr}`);
});
after(async () => {
  removeContainers(prefix);
  await relay?.close();
  await sshd?.dispose();
});

describe("POST /v1/metrics against this machine over ssh", () => {
  it("reports hostname, uptime, load, memory, disks and containers", async () => {
    const res = await post(`${relay.url}/v1/metrics`, { target: sshd.target() });
    assert.equal(res.status, 200);
    const metrics = (await res.json()) as HostMetrics;
    assert.equal(metrics.hostname, hostname());
    assert.ok(metrics.uptime_s > 0);
    assert.equal(metrics.load.length, 3);
    assert.ok(metrics.load.every((n) => typeof n === "number" && n >= 0));
    assert.equal(metrics.memory.total_bytes, totalmem());
    assert.ok(metrics.memory.available_bytes > 0 && metrics.memory.available_bytes <= metrics.memory.total_bytes);
    assert.equal(metrics.memory.used_bytes, metrics.memory.total_bytes - metrics.memory.available_bytes);
    const root = metrics.disk.find((d) => d.mount === "/");
    assert.ok(root, JSON.stringify(metrics.disk));
    assert.ok(root.total_bytes > 0 && root.used_bytes + root.available_bytes <= root.total_bytes);
    assert.equal(metrics.docker, "available");
    const box = metrics.containers.find((c) => c.name === `${prefix}box`);
    assert.ok(box, JSON.stringify(metrics.containers));
    assert.equal(box.image, IMAGES.v1);
    assert.equal(box.state, "running");
    assert.match(box.status, /^Up/);
    assert.equal(box.id, docker("inspect", "--format", "{{.Id}}", `${prefix}box`).stdout);
  });

  it("answers 502 with the error code when the host cannot be used", async () => {
    const res = await post(`${relay.url}/v1/metrics`, { target: sshd.target({ name: "wrong-key", host_key: sshd.clientKey.publicKey }) });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "host_key_mismatch");
  });

  it("answers 400 without a target and 401 without the token", async () => {
    assert.equal((await post(`${relay.url}/v1/metrics`, {})).status, 400);
    assert.equal((await post(`${relay.url}/v1/metrics`, { target: sshd.target() }, null)).status, 401);
  });
});
