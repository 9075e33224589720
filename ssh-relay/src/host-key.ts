import { createHash } from "node:crypto";

/** A host key as pinned in apps.yaml: `"ssh-ed25519 AAAA… [comment]"`. */
export interface PinnedHostKey {
  type: string;
  blob: Buffer;
}

/** Host key algorithms to offer for a pinned key type, so the server shows that key. */
const ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
};

/**
 * Parses an OpenSSH public key line. The base64 blob must decode to a key
 * whose embedded type name equals the line's type, so a line that merely
 * looks right is refused up front rather than at connect time.
 */
export function parsePublicKeyLine(line: string): PinnedHostKey {
  const parts = line.trim().split(/\s+/);
  const [type, base64] = parts;
  if (!type || !base64 || !(type in ALGORITHMS)) {
    throw new TypeError(`expected an OpenSSH public key line of type ${Object.keys(ALGORITHMS).join(", ")}`);
  }
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(base64)) throw new TypeError("the key is not base64");
  const blob = Buffer.from(base64, "base64");
  if (keyType(blob) !== type) throw new TypeError(`the key blob is not a ${type} key`);
  return { type, blob };
}

/** The type name inside an SSH public key blob (its first string), or null. */
export function keyType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 SHA-256 of the blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The algorithms to offer in the key exchange for a pinned key. */
export function hostKeyAlgorithms(pinned: PinnedHostKey): string[] {
  return ALGORITHMS[pinned.type] ?? [pinned.type];
}
