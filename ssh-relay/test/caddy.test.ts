import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { routeId, upstreamOf, withRoute, type ProxyRoute } from "../src/caddy.ts";

interface Case {
  name: string;
  config: unknown;
  route: ProxyRoute;
  expect?: unknown;
  error?: string;
  upstream_before?: string;
  upstream_after?: string;
}

// The same table the .NET agent's CaddyConfigTests runs: one behaviour in both languages.
const { cases } = JSON.parse(readFileSync(new URL("../../test/fixtures/caddy-config-cases.json", import.meta.url), "utf8")) as { cases: Case[] };

describe("Caddy config edits (test/fixtures/caddy-config-cases.json)", () => {
  for (const c of cases) {
    it(c.name, () => {
      const before = JSON.stringify(c.config);
      if (c.error !== undefined) {
        assert.throws(() => withRoute(c.config, c.route), (err: Error) => err.message.includes(c.error!));
      } else {
        assert.deepStrictEqual(withRoute(c.config, c.route), c.expect);
        assert.equal(upstreamOf(c.expect, routeId(c.route.container)), c.route.upstream);
      }
      assert.equal(JSON.stringify(c.config), before, "the input config is not changed");
      if (c.upstream_before !== undefined) assert.equal(upstreamOf(c.config, routeId(c.route.container)), c.upstream_before);
      if (c.upstream_after !== undefined) assert.equal(upstreamOf(c.expect, routeId(c.route.container)), c.upstream_after);
    });
  }
});
