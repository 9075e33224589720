import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type Plugin } from "vitest/config";
import { FAKE_RELAY_TOKEN, fakeRelay } from "./test/fake-relay.ts";

/** Mirrors wrangler.toml's Text rule: `import text from "apps.yaml"` gives the file's text. */
function yamlAsText(): Plugin {
  return {
    name: "yaml-as-text",
    transform(code, id) {
      if (id.endsWith(".yaml") || id.endsWith(".yml")) return { code: `export default ${JSON.stringify(code)};`, map: null };
      return undefined;
    },
  };
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      yamlAsText(),
      cloudflareTest({
        wrangler: { configPath: "./wrangler.dev.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            GITHUB_WEBHOOK_SECRET: "test-webhook-secret",
            DEPLOYBOT_API_TOKENS: "test-admin-token,second-admin-token",
            AGENT_ENROLL_TOKEN: "test-enroll-token",
            SSH_RELAY_URL: "http://relay.test",
            SSH_RELAY_TOKEN: FAKE_RELAY_TOKEN,
          },
          // Every outbound fetch of the Worker lands here: the fake relay, and nothing else.
          outboundService: fakeRelay,
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts", "src/**/*.test.ts"],
      exclude: ["test/e2e/**", "node_modules/**"],
      setupFiles: ["./test/setup.ts"],
      // Request log lines are asserted where they matter; elsewhere they only bury failures.
      onConsoleLog: (log: string) => !log.includes('"msg":"request"'),
    },
  };
});
