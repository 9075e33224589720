import { createInterface } from "node:readline/promises";
import type { Client, Job } from "./client.ts";
import { FINISHED } from "./client.ts";
import { followJob, type LogLine } from "./follow.ts";
import { color, status } from "./output.ts";
import { forOutput } from "./terminal.ts";

/** Prints one log line; its control characters are shown, not obeyed, on a terminal unless `raw`. */
export function printLine(line: LogLine, { raw = false } = {}): void {
  const safe = forOutput(line.text, { tty: process.stdout.isTTY, raw });
  const text = line.stream === "stderr" ? color.red(safe) : line.stream === "system" ? color.dim(safe) : safe;
  process.stdout.write(`${text}\n`);
}

/** Asks a yes/no question on the terminal; false when there is no terminal. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Shows a job's progress and live log until it ends. Ctrl-C asks whether to
 * cancel the job (it goes on following until the job ends) or just to stop watching.
 * Exit code: 0 only when the job succeeded.
 */
export async function watchJob(client: Client, job: Job, { json = false, raw = false } = {}): Promise<number> {
  const abort = new AbortController();
  let asking = false;
  const onSigint = async () => {
    if (asking) return;
    asking = true;
    process.stderr.write("\n");
    const cancel = await confirm(`Cancel job ${job.id}? [y/N] `);
    asking = false;
    if (cancel) {
      const res = await client.json<Job>("POST", `/v1/jobs/${job.id}/cancel`).catch((err: Error) => ({ status: 0, body: err.message }));
      process.stderr.write(color.yellow(res.status ? `cancel requested (${res.status === 200 ? "cancelled" : "the agent will stop it"})\n` : `cancel failed: ${res.body}\n`));
    } else {
      process.stderr.write(`stopped watching; the job goes on. Follow it again with: ctl logs ${job.id} -f\n`);
      abort.abort();
    }
  };
  process.on("SIGINT", onSigint);
  try {
    if (!json) process.stderr.write(color.dim(`job ${job.id} on ${job.host}: ${job.status}\n`));
    let last = job.status;
    const final = await followJob(
      client,
      job.id,
      {
        onLog: (line) => (json ? process.stdout.write(`${JSON.stringify({ type: "log", ...line })}\n`) : printLine(line, { raw })),
        onStatus: (current) => {
          if (!json && current.status !== last) process.stderr.write(color.dim(`job ${current.id}: ${current.status}\n`));
          last = current.status;
        },
        onReconnect: (attempt, reason) => process.stderr.write(color.dim(`connection lost (${reason}); reconnecting (${attempt})…\n`)),
      },
      abort.signal,
    );
    if (!final) return 130;
    const done = FINISHED.includes(final.status) ? final : (await client.json<Job>("GET", `/v1/jobs/${job.id}`)).body;
    if (json) process.stdout.write(`${JSON.stringify({ type: "result", job: done })}\n`);
    else {
      const error = done.error ? `: ${forOutput(done.error, { tty: process.stderr.isTTY, raw })}` : "";
      process.stderr.write(`job ${done.id} ${status(done.status)}${error}\n`);
    }
    return done.status === "succeeded" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
}
