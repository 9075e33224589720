import { CliError } from "./errors.ts";
import type { Job } from "./job.ts";

export type { Job };

export interface ClientOptions {
  url?: string | undefined;
  token?: string | undefined;
}


export const FINISHED = ["succeeded", "failed", "cancelled"];

/**
 * The controller's HTTP API, with errors turned into sentences: an unreachable
 * controller, a refused token and the API's own `{"error": {...}}` answers.
 */
export class Client {
  readonly url: string;
  readonly token: string;

  constructor({ url = process.env.DEPLOYBOT_URL, token = process.env.DEPLOYBOT_TOKEN }: ClientOptions = {}) {
    if (!url) throw new CliError("no controller URL: set DEPLOYBOT_URL or pass --url (for example http://127.0.0.1:8787)", 2);
    if (!token) throw new CliError("no API token: set DEPLOYBOT_TOKEN or pass --token", 2);
    try {
      this.url = new URL(url).toString().replace(/\/$/, "");
    } catch {
      throw new CliError(`DEPLOYBOT_URL is not a URL: ${url}`, 2);
    }
    this.token = token;
  }

  /** A raw response; throws CliError when the controller cannot be reached. */
  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.token}`);
    try {
      return await fetch(`${this.url}${path}`, { ...init, headers });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the controller at ${this.url} (${cause?.code ?? cause?.message ?? (err as Error).message})`);
    }
  }

  /** A JSON call; non-2xx answers become CliErrors with the API's message. */
  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await this.raw(path, {
      method,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    return { status: res.status, body: await this.check<T>(res) };
  }

  /** The body of a successful answer, or a CliError saying why it failed. */
  async check<T>(res: Response): Promise<T> {
    const text = await res.text();
    if (res.ok) return (text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text) as T;
    if (res.status === 401) throw new CliError(`the controller refused the token (401): check DEPLOYBOT_TOKEN`, 1, 401);
    let message = `${res.status} ${res.statusText}`;
    try {
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } }).error;
      if (error) message = `${error.message} (${error.code}, ${res.status})`;
      if (Array.isArray(error?.details) && error.details.length > 0 && error.code === "invalid_config") {
        message += "\n" + (error.details as Array<{ line: number; column: number; message: string; path: string }>)
          .map((p) => `  line ${p.line}, column ${p.column}: ${p.message}${p.path ? ` (${p.path})` : ""}`)
          .join("\n");
      }
    } catch {
      // not our error shape
    }
    throw new CliError(message, 1, res.status);
  }
}
