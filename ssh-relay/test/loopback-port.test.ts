import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRelease } from "../src/cutover.ts";
import { parsePortTable, pickLoopbackPort, portConflict } from "../src/loopback-port.ts";

// What `cat /proc/sys/net/ipv4/ip_local_port_range /proc/net/tcp /proc/net/tcp6` prints (trimmed columns).
const CAT = [
  "32768\t60999",
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0",
  "   1: 0100007F:8001 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1",
  "   2: 0100007F:8002 0100007F:1F90 06 00000000:00000000 03:00000F9B 00000000     0        0 0 3 0000000000000000",
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 00000000000000000000000000000000:8003 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0",
].join("\n");

describe("choosing the loopback port of a cutover's new release", () => {
  it("reads the ephemeral range and every local port, listening, connected or closing, IPv4 and IPv6", () => {
    const table = parsePortTable(CAT);
    assert.deepEqual(table.range, { low: 32768, high: 60999 });
    assert.deepEqual([...table.used].sort((a, b) => a - b), [8080, 32769, 32770, 32771]);
  });

  it("picks a port of the range that no socket holds and that was not tried yet", () => {
    const table = { range: { low: 40000, high: 40003 }, used: new Set([40000, 40002]) };
    // A random draw that always lands on a taken port falls back to the first free one, in order.
    assert.equal(pickLoopbackPort(table, new Set(), () => 0), 40001);
    assert.equal(pickLoopbackPort(table, new Set([40001]), () => 0), 40003);
    assert.equal(pickLoopbackPort(table, new Set(), () => 0.99), 40003);
    assert.throws(() => pickLoopbackPort(table, new Set([40001, 40003])), /no free port in the target's ephemeral range 40000-40003/);
  });

  it("refuses a table without a range, rather than guessing one", () => {
    assert.throws(() => parsePortTable("cat: /proc/sys/net/ipv4/ip_local_port_range: No such file or directory\n"), /ephemeral port range/);
    assert.throws(() => parsePortTable("60999 32768\n"), /ephemeral port range/);
  });

  it("tells docker's refusals of a taken port from other failures", () => {
    assert.ok(portConflict("docker: Error response from daemon: driver failed programming external connectivity on endpoint w (ab): Bind for 127.0.0.1:45111 failed: port is already allocated."));
    assert.ok(portConflict("Error starting userland proxy: listen tcp4 127.0.0.1:45111: bind: address already in use."));
    assert.ok(!portConflict("docker: Error response from daemon: No such image: r/web:1."));
  });

  it("reads where each release publishes the app port from docker ps", () => {
    assert.deepEqual(parseRelease("web abc running 127.0.0.1:41234->3000/tcp", 3000), { name: "web", state: "running", published: "127.0.0.1:41234" });
    assert.deepEqual(parseRelease("web-next-j1 abc running 0.0.0.0:8080->80/tcp, 127.0.0.1:41235->3000/tcp", 3000), { name: "web-next-j1", state: "running", published: "127.0.0.1:41235" });
    assert.deepEqual(parseRelease("web abc exited ", 3000), { name: "web", state: "exited", published: null });
    assert.deepEqual(parseRelease("web abc running 127.0.0.1:41234->30000/tcp", 3000), { name: "web", state: "running", published: null });
    assert.equal(parseRelease("  ", 3000), null);
  });
});
