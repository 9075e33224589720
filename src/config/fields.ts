import { z } from "zod";

/**
 * Field checks for apps.yaml values that a runner would refuse later, at deploy time:
 * the relay and the agent would never run them (they quote, and use the Engine API),
 * but whoever writes the file should hear about it at PUT, with a line and column.
 */

/** Most bytes in an apps.yaml; the D1 row that stores it must stay well under 2 MB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Most hosts in one file: the figure BENCHMARKS.md measures (`/v1/hosts`, `/metrics`, a config change). */
export const MAX_HOSTS = 5_000;
export const MAX_APPS = 500;
/** Most hosts one push deploys to at once. */
export const MAX_HOSTS_PER_APP = 1_000;

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]?$/;

/** An SSH address: a DNS name or an IP address, so never an option such as `-oProxyCommand=…`. */
export const sshAddress = z
  .string()
  .min(1)
  .refine((value) => HOST_NAME.test(value) || IPV6.test(value), "ssh.address must be a host name or an IP address");

const KEY_TYPES = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"] as const;
const KEY_LINE = /^(\S+) ([A-Za-z0-9+/]+={0,3})$/;

/** The type name inside an SSH public key blob (its first length-prefixed string), or null. */
function blobType(base64: string): string | null {
  let bytes: string;
  try {
    bytes = atob(base64);
  } catch {
    return null;
  }
  if (bytes.length < 4) return null;
  const length = ((bytes.charCodeAt(0) << 24) | (bytes.charCodeAt(1) << 16) | (bytes.charCodeAt(2) << 8) | bytes.charCodeAt(3)) >>> 0;
  if (length === 0 || length > 64 || 4 + length > bytes.length) return null;
  return bytes.slice(4, 4 + length);
}

/** A pinned host key: a known type whose base64 blob really is a key of that type (as the relay checks). */
export const sshHostKey = z.string().superRefine((value, ctx) => {
  const match = KEY_LINE.exec(value);
  if (!match || !(KEY_TYPES as readonly string[]).includes(match[1]!)) {
    ctx.addIssue({ code: "custom", message: `host_key must be an OpenSSH public key line of type ${KEY_TYPES.join(", ")}, such as "ssh-ed25519 AAAA..."` });
    return;
  }
  if (blobType(match[2]!) !== match[1]) ctx.addIssue({ code: "custom", message: `host_key's base64 is not a ${match[1]} key` });
});

const IMAGE_CHARS = /^[A-Za-z0-9{][A-Za-z0-9._/:@{}-]*$/;
const REPOSITORY = /^(?:[A-Za-z0-9.-]+(?::\d{1,5})?\/)?[a-z0-9]+(?:(?:[._-]|__|\/)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_{}][A-Za-z0-9_.{}-]{0,127}$/;
const DIGEST = /^[a-z0-9]+:[a-f0-9]{32,}$/;

/**
 * Problems with an image reference `[registry[:port]/]name[:tag][@digest]`, templates allowed in the tag only:
 * a template in the repository part would let whoever pushes a branch choose which image runs.
 */
export function imageProblems(image: string): string[] {
  if (!IMAGE_CHARS.test(image)) return ["image must be a Docker image reference such as registry/name:tag (no spaces, ';' or leading '-')"];
  const [named = "", digest, ...rest] = image.split("@");
  if (rest.length > 0 || (digest !== undefined && !DIGEST.test(digest))) return ["image's digest must look like sha256:<hex>"];
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const repository = colon > slash ? named.slice(0, colon) : named;
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  if (/[{}]/.test(repository)) {
    return ["image's repository must be fixed: templates such as {short_sha} may only fill the tag (name:{short_sha})"];
  }
  if (!REPOSITORY.test(repository)) return ["image's repository must be lowercase letters, digits and separators, after an optional registry host"];
  if (tag !== undefined && !TAG.test(tag)) return ["image's tag must be letters, digits, '_', '.', '-' or template variables"];
  return [];
}

/** A URL with nothing a URL parser would quietly re-encode: no whitespace or control characters. */
export const plainUrl = z
  .string()
  .refine((value) => !/[\s\u0000-\u001f\u007f]/.test(value), "health.url must not contain spaces or control characters");
