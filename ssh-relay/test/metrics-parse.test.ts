import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDf, parseDockerPs, parseProcFiles } from "../src/metrics.ts";

describe("metrics parsers", () => {
  it("reads hostname, uptime, load and memory from the four /proc files", () => {
    const text = ["web-01", "12345.67 40000.00", "0.52 0.41 0.30 2/345 6789", "MemTotal:        2048000 kB", "MemFree:          100000 kB", "MemAvailable:    1024000 kB", "HugePages_Total:       0", ""].join("\n");
    assert.deepEqual(parseProcFiles(text), {
      hostname: "web-01",
      uptime_s: 12345,
      load: [0.52, 0.41, 0.3],
      memory: { total_bytes: 2048000 * 1024, available_bytes: 1024000 * 1024, used_bytes: 1024000 * 1024 },
    });
  });

  it("reads df -P -B1, mounts with spaces included", () => {
    const text = [
      "Filesystem        1-blocks       Used  Available Capacity Mounted on",
      "/dev/sda1      10000000000 4000000000 6000000000      40% /",
      "tmpfs             1048576          0    1048576       0% /mnt/my disk",
      "",
    ].join("\n");
    assert.deepEqual(parseDf(text), [
      { filesystem: "/dev/sda1", mount: "/", total_bytes: 10_000_000_000, used_bytes: 4_000_000_000, available_bytes: 6_000_000_000 },
      { filesystem: "tmpfs", mount: "/mnt/my disk", total_bytes: 1048576, used_bytes: 0, available_bytes: 1048576 },
    ]);
  });

  it("reads docker ps JSON lines, deriving state when an old CLI has none", () => {
    const text = [
      JSON.stringify({ ID: "abc", Names: "web", Image: "acme/web:1", Status: "Up 2 hours", State: "running" }),
      JSON.stringify({ ID: "def", Names: "old", Image: "acme/web:0", Status: "Exited (0) 3 days ago" }),
      "not json",
      "",
    ].join("\n");
    assert.deepEqual(parseDockerPs(text), [
      { id: "abc", name: "web", image: "acme/web:1", status: "Up 2 hours", state: "running" },
      { id: "def", name: "old", image: "acme/web:0", status: "Exited (0) 3 days ago", state: "exited" },
    ]);
  });
});

describe("collectMetrics", () => {
  it("reports docker unavailable, with no containers, when docker ps fails", async () => {
    const { collectMetrics } = await import("../src/metrics.ts");
    const outputs: Record<string, { exitCode: number; stdout: string; stderr: string; truncated: boolean }> = {
      cat: { exitCode: 0, stdout: "h\n1.5 2\n0 0 0 1/1 1\nMemTotal: 1 kB\nMemAvailable: 1 kB\n", stderr: "", truncated: false },
      df: { exitCode: 0, stdout: "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/x 10 4 6 40% /\n", stderr: "", truncated: false },
      docker: { exitCode: 127, stdout: "", stderr: "sh: docker: not found", truncated: false },
    };
    const metrics = await collectMetrics(async (argv) => outputs[argv[0]!]!);
    assert.equal(metrics.docker, "unavailable");
    assert.deepEqual(metrics.containers, []);
    assert.equal(metrics.disk.length, 1);
  });
});
