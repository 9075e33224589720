import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { shellQuote } from "../src/quote.ts";

describe("shellQuote", () => {
  it("single-quotes every argument and joins with spaces", () => {
    assert.equal(shellQuote(["docker", "pull", "nginx:1.27"]), "'docker' 'pull' 'nginx:1.27'");
  });

  it("writes an embedded single quote as '\\''", () => {
    assert.equal(shellQuote(["echo", "it's"]), `'echo' 'it'\\''s'`);
    assert.equal(shellQuote(["'"]), `''\\'''`);
  });

  it("keeps the empty string as an argument", () => {
    assert.equal(shellQuote(["printf", ""]), "'printf' ''");
  });

  it("leaves $, backticks, ;, newlines and backslashes inert inside the quotes", () => {
    assert.equal(shellQuote(["x;touch /tmp/pwned", "$(id)", "`id`", "a\nb", "c\\d"]), "'x;touch /tmp/pwned' '$(id)' '`id`' 'a\nb' 'c\\d'");
  });

  it("refuses a NUL byte and an empty argv", () => {
    assert.throws(() => shellQuote(["a\0b"]), /NUL/);
    assert.throws(() => shellQuote([]), /empty/);
  });

  it("round-trips through a real /bin/sh byte for byte", () => {
    const nasty = ["plain", "", " spaced  out ", "it's", "''", "\\'", "$HOME", "$(id)", "`id`", "a;b", "a&&b", "a|b", "*", "~", "#x", "a\nb\r\n", "\t", "é ünï ☃", "-n", "--", "\\", "!"];
    const result = spawnSync("/bin/sh", ["-c", shellQuote(["printf", "%s\\0", ...nasty])], { encoding: "buffer" });
    assert.equal(result.status, 0);
    const got = result.stdout.toString("utf8").split("\0").slice(0, -1);
    assert.deepEqual(got, nasty);
  });
});
