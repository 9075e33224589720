import type { ArgsDef } from "citty";
import { Client } from "./client.ts";
import { CliError } from "./errors.ts";

/** Flags every command takes: where the controller is, the token, and JSON output. */
export const commonArgs = {
  url: { type: "string", description: "controller URL (default: $DEPLOYBOT_URL)" },
  token: { type: "string", description: "API token (default: $DEPLOYBOT_TOKEN)" },
  json: { type: "boolean", description: "print JSON for programs instead of text for people", default: false },
} as const satisfies ArgsDef;

export function clientFrom(args: { url?: string | undefined; token?: string | undefined }): Client {
  return new Client({ url: args.url ?? process.env.DEPLOYBOT_URL, token: args.token ?? process.env.DEPLOYBOT_TOKEN });
}

/** A required argument's value, or a usage error (exit code 2) naming it. */
export function requireArg(value: string | undefined, name: string): string {
  if (!value) throw new CliError(`missing ${name} (see --help)`, 2);
  return value;
}
