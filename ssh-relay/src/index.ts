import { createLogger } from "./log.ts";
import { SshPool } from "./pool.ts";
import { createRelayServer } from "./server.ts";

/**
 * The relay process: settings from the environment, one pool, one server.
 *
 *   SSH_RELAY_TOKEN  bearer token the Worker shows (required)
 *   SSH_PRIVATE_KEY  PEM or OpenSSH private key for the targets (without it every SSH call fails with auth_failed)
 *   PORT             default 8788
 *   HOST             default 127.0.0.1 (the Dockerfile sets 0.0.0.0)
 *   LOG_LEVEL        debug, info (default), warn or error
 */
const logger = createLogger({ level: logLevel(process.env.LOG_LEVEL) });

function fail(message: string): never {
  logger.error(message);
  process.exit(1);
}

const token = process.env.SSH_RELAY_TOKEN ?? "";
if (!token) fail("SSH_RELAY_TOKEN is not set: the relay will not run without a token");

const port = Number(process.env.PORT ?? 8788);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail("PORT must be a TCP port number");
const host = process.env.HOST || "127.0.0.1";

let pool: SshPool;
try {
  pool = new SshPool({ privateKey: privateKeyFromEnv(process.env.SSH_PRIVATE_KEY), logger });
} catch (err) {
  // The message names the problem (format), never the key itself.
  fail((err as Error).message);
}
if (!process.env.SSH_PRIVATE_KEY) logger.warn("SSH_PRIVATE_KEY is not set: every SSH call will fail with auth_failed");

const server = createRelayServer({ token, pool, logger });
server.listen(port, host, () => {
  const address = server.address();
  logger.info("ssh-relay listening", { host, port: typeof address === "object" && address ? address.port : port });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info("shutting down", { signal });
    pool.close();
    server.close(() => process.exit(0));
    // Streams in flight (a long exec) would hold close() open: give them a moment.
    setTimeout(() => process.exit(0), 5000).unref();
  });
}

/**
 * The key as the environment holds it. Secret stores often keep one line, so
 * literal `\n` sequences in a value without real newlines are turned back
 * into newlines.
 */
function privateKeyFromEnv(value: string | undefined): string | null {
  if (!value || !value.trim()) return null;
  const text = !value.includes("\n") && value.includes("\\n") ? value.replaceAll("\\n", "\n") : value;
  return text.endsWith("\n") ? text : `${text}\n`;
}

function logLevel(value: string | undefined): "debug" | "info" | "warn" | "error" {
  return value === "debug" || value === "warn" || value === "error" ? value : "info";
}
