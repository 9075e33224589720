/** One JSON object per line: `{"ts", "level", "msg", ...fields}`. */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
  level?: LogLevel;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A structured logger. Callers pass facts (target name, job id, durations,
 * codes), never command lines or env values: a deploy's env holds secrets, and
 * the private key is never handed to the logger at all.
 */
export function createLogger({ write = (line) => process.stdout.write(line), level = "info" }: LoggerOptions = {}): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel) =>
    function log(msg: string, fields: Record<string, unknown> = {}) {
      if (ORDER[lvl] < min) return;
      write(`${JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => undefined });
