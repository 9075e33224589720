import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, type Plugin } from "vitest/config";
import { FAKE_RELAY_TOKEN, fakeRelay } from "./test/fake-relay.ts";
import { githubStandin, STANDIN_HOST } from "./test/github-standin.ts";
import { NOTIFY_TEST_SECRET, notifyReceiver, RECEIVER_HOST } from "./test/notify-receiver.ts";

/** Every outbound fetch of the Worker: the stand-in GitHub, the notification receiver, else the fake relay. */
function outbound(request: Request): Promise<Response> {
  const host = new URL(request.url).hostname;
  if (host === STANDIN_HOST) return githubStandin(request);
  if (host === RECEIVER_HOST) return notifyReceiver(request);
  return fakeRelay(request);
}

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
            // GitHub stays off here (no credentials); the notify tests point their room at the stand-in.
            NOTIFY_TEST_SECRET,
          },
          outboundService: outbound,
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
