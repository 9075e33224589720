import { describe, expect, it } from "vitest";
import { redact, secretValues } from "./logs";

describe("redaction", () => {
  it("picks env values by secret-looking names, longest first", () => {
    expect(
      secretValues({ API_TOKEN: "abcd", SSH_KEY: "abcdefgh", APP_SECRET: "s3cr3t", DB_PASSWORD: "pw-123456", MY_PASSWORD_FILE: "/run/pw", APP_ENV: "production", KEYBOARD: "qwerty" }),
    ).toEqual(["pw-123456", "abcdefgh", "/run/pw", "s3cr3t", "abcd"]);
  });

  it("replaces every occurrence, and leaves values too short to be secrets alone", () => {
    expect(redact("a=abcdefgh b=abcdefgh", ["abcdefgh"])).toBe("a=*** b=***");
    expect(redact("x=abc", ["abc"])).toBe("x=abc");
  });
});
