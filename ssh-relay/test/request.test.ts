import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RelayError } from "../src/errors.ts";
import { parseDeployRequest, parseExecRequest } from "../src/request.ts";

// A syntactically valid ed25519 key line (the blob only has to name its type).
const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
const target = { name: "host-03", address: "203.0.113.10", port: 22, user: "deploy", host_key: `ssh-ed25519 ${blob.toString("base64")}` };
const deploy = { image: "acme/web:abc", container: "web", ports: ["8080:80"], env: { K: "V" }, health: { url: "http://127.0.0.1:8080/up", timeout: 30 } };

function invalid(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => err instanceof RelayError && err.code === "invalid_request" && err.status === 400 && pattern.test(err.message));
}

describe("request validation", () => {
  it("fills exec defaults: 60 s, 1 MiB", () => {
    const input = parseExecRequest({ target, command: "uptime" });
    assert.equal(input.timeoutMs, 60_000);
    assert.equal(input.maxOutputBytes, 1024 * 1024);
  });

  it("bounds timeout_s (max 3600) and max_output_bytes (max 16 MiB)", () => {
    invalid(() => parseExecRequest({ target, command: "x", timeout_s: 3601 }), /timeout_s/);
    invalid(() => parseExecRequest({ target, command: "x", timeout_s: 0 }), /timeout_s/);
    invalid(() => parseExecRequest({ target, command: "x", max_output_bytes: 16 * 1024 * 1024 + 1 }), /max_output_bytes/);
    assert.equal(parseExecRequest({ target, command: "x", timeout_s: 3600 }).timeoutMs, 3_600_000);
  });

  it("requires a complete target with a parseable host key", () => {
    invalid(() => parseExecRequest({ command: "x" }), /target must be an object/);
    invalid(() => parseExecRequest({ target: { ...target, host_key: "ssh-ed25519 AAAA" }, command: "x" }), /host_key/);
    invalid(() => parseExecRequest({ target: { ...target, port: 70000 }, command: "x" }), /target.port/);
    invalid(() => parseExecRequest({ target: { ...target, address: "-oProxyCommand=x" }, command: "x" }), /address/);
  });

  it("reads a deploy with labels' app and sha and a duration string", () => {
    const input = parseDeployRequest({ target, job_id: "job-1", attempt: 2, app: "web", sha: "abc", deploy: { ...deploy, health: { url: deploy.health.url, timeout: "2m" } } });
    assert.equal(input.deploy.health?.timeoutMs, 120_000);
    assert.equal(input.attempt, 2);
    assert.equal(input.app, "web");
    assert.deepEqual(input.deploy.env, { K: "V" });
  });

  it("refuses values that would be read as options or break a container name", () => {
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, image: "--privileged" } }), /image/);
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, container: "-web" } }), /container/);
    invalid(() => parseDeployRequest({ target, job_id: "j;x", deploy }), /job_id/);
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, ports: ["8080:80;x"] } }), /ports/);
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, env: { "A=B": "x" } } }), /env/);
    for (const key of ["A.B", "my-var", "1ST", ""]) invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, env: { [key]: "x" } } }), /not an environment variable name/);
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, health: { url: "file:///etc/passwd" } } }), /http/);
    invalid(() => parseDeployRequest({ target, job_id: "j", deploy: { ...deploy, env: { K: "a\0b" } } }), /NUL/);
  });

  it("keeps hostile-looking but valid values for quoting to handle", () => {
    const input = parseDeployRequest({ target, job_id: "j", sha: "$(id)", deploy: { ...deploy, image: "x;touch /tmp/pwned", env: { K: `'"\n$(id)` } } });
    assert.equal(input.deploy.image, "x;touch /tmp/pwned");
    assert.equal(input.deploy.env.K, `'"\n$(id)`);
  });
});
