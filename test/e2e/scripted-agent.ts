import { E2E_SECRETS, type Controller } from "./controller.ts";

/** An agent written as a test script: it speaks docs/agent-protocol.md over plain fetch. */
export class ScriptedAgent {
  private seq = 0;
  private readonly controller: Controller;
  readonly id: string;
  readonly token: string;

  // Plain fields, no parameter properties: benchmarks run this file with Node's type stripping.
  private constructor(controller: Controller, id: string, token: string) {
    this.controller = controller;
    this.id = id;
    this.token = token;
  }

  static async register(controller: Controller, hostname: string): Promise<ScriptedAgent> {
    const res = await fetch(`${controller.url}/v1/agents/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${E2E_SECRETS.AGENT_ENROLL_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ hostname, version: "scripted" }),
    });
    if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { agent_id: string; token: string };
    return new ScriptedAgent(controller, body.agent_id, body.token);
  }

  async call(path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.controller.url}${path}`, {
      method: "POST",
      // Uncompressed, as the .NET agent asks (its HttpClient sends no Accept-Encoding); fetch would ask for gzip.
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json", "accept-encoding": "identity" },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  heartbeat(runningJobId: string | null = null, wait = 0, signal?: AbortSignal) {
    return this.call(`/v1/agents/${this.id}/heartbeat?wait=${wait}`, { running_job_id: runningJobId }, signal);
  }

  /** Long-polls until a job comes (or throws after `seconds`). */
  async takeJob(seconds = 20): Promise<any> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      const beat = await this.heartbeat(null, Math.min(10, Math.ceil((deadline - Date.now()) / 1000)));
      if (beat.body?.job) {
        this.seq = 0;
        return beat.body.job;
      }
    }
    throw new Error("no job came");
  }

  status(jobId: string, body: Record<string, unknown>) {
    return this.call(`/v1/jobs/${jobId}/status`, body);
  }

  /** Sends lines numbered on from the last ones sent for the current job. */
  async log(jobId: string, texts: string[]) {
    const lines = texts.map((text) => ({ seq: ++this.seq, ts: new Date().toISOString(), stream: "stdout", text }));
    const res = await this.call(`/v1/jobs/${jobId}/logs`, { lines });
    if (res.status !== 204) throw new Error(`logs: ${res.status} ${JSON.stringify(res.body)}`);
  }
}
