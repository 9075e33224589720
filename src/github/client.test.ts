import { describe, expect, it } from "vitest";
import { commitPageUrl } from "./client";

describe("commitPageUrl", () => {
  it("is github.com's commit page for the public API, and the server's own for Enterprise Server", () => {
    expect(commitPageUrl(undefined, "acme/web", "abc")).toBe("https://github.com/acme/web/commit/abc");
    expect(commitPageUrl("https://api.github.com/", "acme/web", "abc")).toBe("https://github.com/acme/web/commit/abc");
    expect(commitPageUrl("https://ghe.example.com/api/v3", "acme/web", "abc")).toBe("https://ghe.example.com/acme/web/commit/abc");
  });
});
