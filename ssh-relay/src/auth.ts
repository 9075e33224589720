import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks `Authorization: Bearer <token>` against the relay's token in constant
 * time: both sides are hashed to SHA-256 first, so timingSafeEqual always
 * compares 32 bytes and neither the token's content nor its length leaks
 * through timing.
 */
export function createBearerCheck(token: string): (authorization: string | undefined) => boolean {
  if (!token) throw new TypeError("the relay token must not be empty");
  const expected = digest(token);
  return function isAuthorized(authorization) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    const presented = digest(match?.[1] ?? "");
    // Hash and compare even without a token, so that case costs the same.
    return timingSafeEqual(presented, expected) && match !== null;
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}
