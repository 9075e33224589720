import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fingerprint, hostKeyAlgorithms, keyType, parsePublicKeyLine } from "../src/host-key.ts";
import { generateKey, requireOpenSsh } from "./helpers/sshd.ts";

requireOpenSsh();
const dir = mkdtempSync(join(tmpdir(), "ssh-relay-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("host keys", () => {
  it("parses an OpenSSH line and fingerprints it as ssh-keygen -l does", () => {
    const key = generateKey(dir, "a");
    const pinned = parsePublicKeyLine(`${key.publicKey} some comment`);
    assert.equal(pinned.type, "ssh-ed25519");
    assert.equal(keyType(pinned.blob), "ssh-ed25519");
    const keygen = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${key.path}.pub`], { encoding: "utf8" });
    assert.equal(keygen.stdout.split(" ")[1], fingerprint(pinned.blob));
  });

  it("offers only the pinned type's algorithms", () => {
    assert.deepEqual(hostKeyAlgorithms({ type: "ssh-ed25519", blob: Buffer.alloc(0) }), ["ssh-ed25519"]);
    assert.deepEqual(hostKeyAlgorithms({ type: "ssh-rsa", blob: Buffer.alloc(0) }), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  });

  it("refuses lines that are not a key of the named type", () => {
    const key = generateKey(dir, "b");
    const base64 = key.publicKey.split(" ")[1]!;
    assert.throws(() => parsePublicKeyLine("ssh-ed25519"), /OpenSSH public key line/);
    assert.throws(() => parsePublicKeyLine(`ssh-dss ${base64}`), /OpenSSH public key line/);
    assert.throws(() => parsePublicKeyLine(`ssh-rsa ${base64}`), /not a ssh-rsa key/);
    assert.throws(() => parsePublicKeyLine("ssh-ed25519 not*base64"), /base64/);
  });
});
