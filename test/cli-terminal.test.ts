import { describe, expect, it } from "vitest";
import { forOutput, visible } from "../cli/src/lib/terminal";

describe("ctl's terminal output", () => {
  const hostile = "ok\u001b[2J\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\r\u009b31m\tdone";

  it("shows ESC, BEL, CR and C1 characters instead of obeying them, keeping tabs", () => {
    expect(visible(hostile)).toBe("ok\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\x0d\\x9b31m\tdone");
    expect(visible("plain text, ünïcode ✓")).toBe("plain text, ünïcode ✓");
  });

  it("neutralises on a terminal, keeps the bytes with --raw or into a pipe", () => {
    expect(forOutput(hostile, { tty: true })).not.toMatch(/[\u001b\u0007\u009b]/);
    expect(forOutput(hostile, { tty: true, raw: true })).toBe(hostile);
    expect(forOutput(hostile, { tty: false })).toBe(hostile);
  });
});
