import { errorBody, handleError } from "./errors";
import { apiHeaders } from "./middleware/api-headers";
import { requestLog } from "./middleware/request-log";
import { createRouter } from "./openapi";
import { agentsRouter } from "./routes/agents";
import { enrollTokensRouter } from "./routes/enroll-tokens";
import { logTicketsRouter } from "./routes/log-tickets";
import { appsRouter } from "./routes/apps";
import { configRouter } from "./routes/config";
import { dashboardApiRouter } from "./routes/dashboard-api";
import { docsRouter } from "./routes/docs";
import { healthRouter } from "./routes/health";
import { hostsRouter } from "./routes/hosts";
import { agentJobsRouter } from "./routes/agent-jobs";
import { jobsRouter } from "./routes/jobs";
import { logsRouter } from "./routes/logs";
import { metricsRouter } from "./routes/metrics";
import { rolloutsRouter } from "./routes/rollouts";
import { notifyRouter } from "./routes/notify";
import { sshRouter } from "./routes/ssh";
import { webhooksRouter } from "./routes/webhooks";

export const app = createRouter();

app.use("*", requestLog());
app.use("*", apiHeaders());

app.openAPIRegistry.registerComponent("securitySchemes", "apiToken", {
  type: "http",
  scheme: "bearer",
  description: "One of DEPLOYBOT_API_TOKENS",
});
app.openAPIRegistry.registerComponent("securitySchemes", "agentToken", {
  type: "http",
  scheme: "bearer",
  description: "The token an agent received when it registered",
});
app.openAPIRegistry.registerComponent("securitySchemes", "enrollToken", {
  type: "http",
  scheme: "bearer",
  description: "AGENT_ENROLL_TOKEN, or a host-bound enrollment token from POST /v1/agents/enroll-tokens",
});

app.route("/", healthRouter);
app.route("/", webhooksRouter);
app.route("/", agentsRouter);
app.route("/", enrollTokensRouter);
app.route("/", jobsRouter);
app.route("/", agentJobsRouter);
app.route("/", logsRouter);
app.route("/", logTicketsRouter);
app.route("/", metricsRouter);
app.route("/", sshRouter);
app.route("/", hostsRouter);
app.route("/", configRouter);
app.route("/", dashboardApiRouter);
app.route("/", appsRouter);
app.route("/", rolloutsRouter);
app.route("/", notifyRouter);

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "DeployBot",
    version: "1",
    description: "Turns a git push into a deployment on your servers.",
  },
});
app.route("/", docsRouter);

app.notFound((c) => c.json(errorBody("not_found", "no such route"), 404));
app.onError(handleError);
