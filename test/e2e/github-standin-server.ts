// The stand-in GitHub (test/github-standin.ts) as a real HTTP server on 127.0.0.1, for the fault
// suite and for trying DeployBot's GitHub side by hand:
//   node test/e2e/github-standin-server.ts 9797   then GITHUB_API_URL=http://127.0.0.1:9797 in .dev.vars
import { createServer, type Server } from "node:http";
import { githubStandin } from "../github-standin.ts";

export interface Standin {
  url: string;
  close(): Promise<void>;
}

/** Starts the stand-in on `port` (0: any free port). */
export function startStandin(port = 0): Promise<Standin> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v] as [string, string]] : [])),
      ...(body && req.method !== "GET" && req.method !== "HEAD" ? { body } : {}),
    });
    const answer = await githubStandin(request);
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
      resolve({ url, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startStandin(Number(process.argv[2] ?? 9797));
  process.stdout.write(`stand-in GitHub on ${url} (requests: ${url}/_standin/requests?repo=OWNER/REPO)\n`);
}
