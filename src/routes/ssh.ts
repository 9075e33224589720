import { createRoute, z } from "@hono/zod-openapi";
import { loadRunningConfig } from "../config/current";
import { ApiError } from "../errors";
import { queueDeploy } from "../host/dispatch";
import { apiAuth } from "../middleware/auth";
import { createRouter } from "../openapi";
import { errorResponses, HOST_NAME } from "../schemas/common";
import { CreateJobBody, JobSchema } from "../schemas/jobs";
import { readNdjson, RelayError, relayClient, relayFailure } from "../ssh/relay";
import { requireSshHost } from "../ssh/target";

/** Most output /v1/ssh/execute returns per stream; the relay caps what it sends at the same size. */
const MAX_EXEC_OUTPUT = 1024 * 1024;

const deploySsh = createRoute({
  method: "post",
  path: "/v1/deploy/ssh",
  tags: ["ssh"],
  summary: "Queue a deploy on an ssh host (run through the relay)",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { body: { content: { "application/json": { schema: CreateJobBody } }, required: true } },
  responses: {
    201: { description: "Queued", content: { "application/json": { schema: JobSchema } } },
    200: { description: "The same deploy is already queued or running", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses(400, 401, 404, 409, 422),
  },
});

const ExecuteBody = z
  .object({
    host: z.string().regex(HOST_NAME),
    command: z.string().max(64 * 1024).refine((c) => c.trim().length > 0, "command is empty"),
    timeout_s: z.number().int().min(1).max(3600).default(60),
  })
  .openapi("SshExecute");

const ExecuteResult = z
  .object({ exit_code: z.number().int().nullable(), stdout: z.string(), stderr: z.string(), duration_ms: z.number(), truncated: z.boolean() })
  .openapi("SshExecuteResult");

const execute = createRoute({
  method: "post",
  path: "/v1/ssh/execute",
  tags: ["ssh"],
  summary: "Run a shell command on an ssh host",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { body: { content: { "application/json": { schema: ExecuteBody } }, required: true } },
  responses: {
    200: { description: "The command ran (any exit code)", content: { "application/json": { schema: ExecuteResult } } },
    ...errorResponses(400, 401, 404, 409),
    502: { description: "The relay or the host could not run it (host key mismatch, auth, connect, timeout)" },
  },
});

const MetricsSchema = z
  .object({
    hostname: z.string(),
    uptime_s: z.number(),
    load: z.array(z.number()),
    memory: z.record(z.string(), z.number()),
    disk: z.array(z.record(z.string(), z.union([z.string(), z.number()]))),
    containers: z.array(z.record(z.string(), z.unknown())),
  })
  .passthrough()
  .openapi("SshMetrics");

const metrics = createRoute({
  method: "get",
  path: "/v1/ssh/metrics/{hostname}",
  tags: ["ssh"],
  summary: "Uptime, load, memory, disks and containers of an ssh host",
  security: [{ apiToken: [] }],
  middleware: [apiAuth] as const,
  request: { params: z.object({ hostname: z.string().min(1).max(64).openapi({ param: { name: "hostname", in: "path" } }) }) },
  responses: {
    200: { description: "Read from /proc, df and docker ps on the host", content: { "application/json": { schema: MetricsSchema } } },
    ...errorResponses(401, 404, 409),
    502: { description: "The relay or the host could not be reached" },
  },
});

/** A relay failure as an HTTP answer: 502, with the relay's code (never its raw body). */
function badGateway(err: unknown): never {
  if (err instanceof RelayError) throw new ApiError(502, err.code, err.message);
  throw err;
}

export const sshRouter = createRouter()
  .openapi(deploySsh, async (c) => {
    const { config } = await loadRunningConfig(c.env.DB);
    const result = await queueDeploy(c.env, config, c.req.valid("json"), { mode: "ssh" });
    return c.json(result.job, result.created ? 201 : 200);
  })
  .openapi(execute, async (c) => {
    const body = c.req.valid("json");
    const { config } = await loadRunningConfig(c.env.DB);
    const target = requireSshHost(config, body.host);
    try {
      const res = await relayClient(c.env).fetch("/v1/exec", {
        target,
        command: body.command,
        timeout_s: body.timeout_s,
        max_output_bytes: MAX_EXEC_OUTPUT,
      });
      if (!res.ok || !res.body) throw await relayFailure(res);
      const out = { stdout: "", stderr: "" };
      let result: z.infer<typeof ExecuteResult> | null = null;
      let failure: RelayError | null = null;
      await readNdjson(res.body, (message) => {
        if (message.type === "stdout" || message.type === "stderr") out[message.type] += String(message.data ?? "");
        else if (message.type === "exit") {
          result = {
            ...out,
            exit_code: typeof message.exit_code === "number" ? message.exit_code : null,
            duration_ms: Number(message.duration_ms ?? 0),
            truncated: message.truncated === true,
          };
        } else if (message.type === "error") failure = new RelayError(String(message.code), String(message.message ?? ""));
      }).catch((err: unknown) => {
        throw err instanceof RelayError ? err : new RelayError("relay_lost", `the connection to the ssh relay broke mid-command (${(err as Error).message})`);
      });
      if (failure) throw failure;
      if (!result) throw new RelayError("relay_lost", "the relay's stream ended before the command's exit");
      console.log(JSON.stringify({ level: "info", msg: "ssh execute", host: body.host, exit_code: (result as { exit_code: number | null }).exit_code }));
      return c.json(result, 200);
    } catch (err) {
      badGateway(err);
    }
  })
  .openapi(metrics, async (c) => {
    const { hostname } = c.req.valid("param");
    const { config } = await loadRunningConfig(c.env.DB);
    const target = requireSshHost(config, hostname);
    try {
      const res = await relayClient(c.env).fetch("/v1/metrics", { target });
      if (!res.ok) throw await relayFailure(res);
      return c.json((await res.json()) as z.infer<typeof MetricsSchema>, 200);
    } catch (err) {
      badGateway(err);
    }
  });
