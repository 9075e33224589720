// A stand-in GitHub for the Worker tests (Node side, reached through miniflare's outbound service
// at http://github.test). It serves the calls DeployBot makes, records every request, and checks
// each against GitHub's OpenAPI description (test/github-openapi.ts): a request GitHub would not
// take is answered 422 with the problems, and recorded with them, so tests assert there are none.
// Control routes (tests only), each scoped to one repository so test files do not meet:
//   GET  /_standin/requests?repo=o/r   what was asked, in order
//   POST /_standin/faults?repo=o/r     [{status, retry_after?, after?} | {hang_ms} | {pass}]: the next POSTs' answers
//                                      (`after`: do the work, then answer with the fault: a lost answer;
//                                      `on: operationId`: the fault waits for that call, others pass it by)
//   GET|POST /_standin/deployments?repo=o/r   the repository's Deployments; POST adds one made by someone else
import { checkRequest } from "./github-openapi.ts";

export const STANDIN_HOST = "github.test";

export interface Recorded {
  method: string;
  path: string;
  query: string;
  operationId: string | null;
  body: unknown;
  problems: string[];
  status: number;
}

type Fault = ({ status: number; retry_after?: number; after?: boolean } | { hang_ms: number } | { pass: true }) & { on?: string };

interface Deployment {
  id: number;
  url: string;
  sha: string;
  ref: string;
  environment: string;
  payload: unknown;
  statuses: unknown[];
}

const requests = new Map<string, Recorded[]>();
const faults = new Map<string, Fault[]>();
const deployments = new Map<string, Deployment[]>();
let nextId = 1000;
let tokensMinted = 0;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers });

export async function githubStandin(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/_standin/")) return control(request, url);
  const text = await request.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    return json(400, { message: "Problems parsing JSON" });
  }
  const { operationId, problems } = checkRequest(request.method, url.pathname, body);
  const repo = /^\/repos\/([^/]+\/[^/]+)/.exec(url.pathname)?.[1] ?? "";
  const record: Recorded = { method: request.method, path: url.pathname, query: url.search, operationId, body, problems, status: 0 };
  const list = requests.get(repo) ?? [];
  list.push(record);
  requests.set(repo, list);
  const answer = await respond(request, url, repo, body, problems, operationId);
  record.status = answer.status;
  return answer;
}

async function respond(request: Request, url: URL, repo: string, body: any, problems: string[], operationId: string | null): Promise<Response> {
  if (problems.length > 0) return json(422, { message: "Validation Failed", errors: problems });
  if (!/^(bearer|token) \S+$/i.test(request.headers.get("authorization") ?? "")) return json(401, { message: "Requires authentication" });
  // Faults hit the calls that change something (the look-ups before them pass).
  const fault = request.method === "GET" ? undefined : nextFault(repo, operationId);
  if (!fault || "pass" in fault) return serve(request.method, url, repo, body);
  if ("hang_ms" in fault) {
    await new Promise((resolve) => setTimeout(resolve, fault.hang_ms));
    return json(504, { message: "hung" });
  }
  if (fault.after) serve(request.method, url, repo, body);
  return faultAnswer(fault);
}

/** The first queued fault for this call (one without `on`, or `on` this operation), taken off the list. */
function nextFault(repo: string, operationId: string | null): Fault | undefined {
  const list = faults.get(repo) ?? [];
  const at = list.findIndex((f) => f.on === undefined || f.on === operationId);
  return at < 0 ? undefined : list.splice(at, 1)[0];
}

function faultAnswer(fault: { status: number; retry_after?: number }): Response {
  const headers: Record<string, string> = fault.retry_after !== undefined ? { "retry-after": String(fault.retry_after) } : {};
  const message = fault.status === 403 ? "You have exceeded a secondary rate limit." : "Server Error";
  return json(fault.status, { message }, headers);
}

function serve(method: string, url: URL, repo: string, body: any): Response {
  const path = url.pathname;
  if (method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
    tokensMinted++;
    return json(201, { token: `ghs_standin${tokensMinted}`, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: { deployments: "write", statuses: "write", metadata: "read" }, repository_selection: "all" });
  }
  if (method === "GET" && path.endsWith("/installation")) return json(200, { id: 42, app_id: 1, account: { login: repo.split("/")[0] } });
  const list = deployments.get(repo) ?? [];
  deployments.set(repo, list);
  if (path === `/repos/${repo}/deployments` && method === "POST") {
    const id = nextId++;
    const created: Deployment = { id, url: `https://${STANDIN_HOST}/repos/${repo}/deployments/${id}`, sha: body.ref, ref: body.ref, environment: body.environment, payload: body.payload ?? {}, statuses: [] };
    list.push(created);
    return json(201, created);
  }
  if (path === `/repos/${repo}/deployments` && method === "GET") {
    const sha = url.searchParams.get("sha");
    const environment = url.searchParams.get("environment");
    return json(200, list.filter((d) => (!sha || d.sha === sha) && (!environment || d.environment === environment)).reverse());
  }
  const status = new RegExp(`^/repos/${repo}/deployments/(\\d+)/statuses$`).exec(path);
  if (status && method === "POST") {
    const deployment = list.find((d) => d.id === Number(status[1]));
    if (!deployment) return json(404, { message: "Not Found" });
    deployment.statuses.push(body);
    return json(201, { id: nextId++, state: body.state });
  }
  if (method === "POST" && path.startsWith(`/repos/${repo}/statuses/`)) return json(201, { id: nextId++, state: body.state, context: body.context });
  return json(404, { message: "Not Found" });
}

async function control(request: Request, url: URL): Promise<Response> {
  const repo = url.searchParams.get("repo") ?? "";
  if (url.pathname === "/_standin/requests") return json(200, requests.get(repo) ?? []);
  if (url.pathname === "/_standin/faults" && request.method === "POST") {
    faults.set(repo, (await request.json()) as Fault[]);
    return json(200, { ok: true });
  }
  if (url.pathname === "/_standin/deployments" && request.method === "POST") {
    // A Deployment someone else made (the API, Actions): the one a `deployment` event names.
    const { id, sha, ref, environment } = (await request.json()) as Deployment;
    const list = deployments.get(repo) ?? [];
    list.push({ id, sha, ref, environment, url: `https://${STANDIN_HOST}/repos/${repo}/deployments/${id}`, payload: {}, statuses: [] });
    deployments.set(repo, list);
    return json(201, { ok: true });
  }
  if (url.pathname === "/_standin/deployments") return json(200, deployments.get(repo) ?? []);
  if (url.pathname === "/_standin/tokens") return json(200, { minted: tokensMinted });
  return json(404, { message: "no such control route" });
}
