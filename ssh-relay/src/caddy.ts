/**
 * Pure edits of Caddy's JSON config (what `GET /config/` returns and `POST
 * /load` takes); no I/O. DeployBot owns the servers named `deploybot-…` and
 * the routes whose `@id` is `deploybot-<container>`; everything else in the
 * config is carried over untouched. The .NET agent has the same functions
 * (agent-dotnet/src/DeployBot.Agent/Proxy/CaddyConfig.cs);
 * test/fixtures/caddy-config-cases.json pins both.
 */

/** Where one app is served: the proxy's listen address, an optional Host, and the upstream it dials. */
export interface ProxyRoute {
  listen: string;
  host: string | null;
  container: string;
  upstream: string;
}

type Json = Record<string, unknown>;

export function routeId(container: string): string {
  return `deploybot-${container}`;
}

/** `deploybot-0.0.0.0-80` for `0.0.0.0:80`: one Caddy server per listen address. */
export function serverName(listen: string): string {
  return `deploybot-${listen.replace(/[^A-Za-z0-9.]/g, "-")}`;
}

/** The dial address the route sends traffic to, or null when there is no such route. */
export function upstreamOf(config: unknown, id: string): string | null {
  for (const server of Object.values(servers(config))) {
    for (const route of routes(server)) {
      if (route["@id"] === id) {
        const dial = (((route.handle as Json[] | undefined)?.[0]?.upstreams as Json[] | undefined)?.[0])?.dial;
        return typeof dial === "string" ? dial : null;
      }
    }
  }
  return null;
}

/**
 * A copy of CONFIG in which ROUTE exists exactly once, on the server for its
 * listen address, sending traffic to its upstream. Routes with a Host come
 * before the catch-all one. Throws when another route on that listen address
 * matches the same Host (or every Host).
 */
export function withRoute(config: unknown, route: ProxyRoute): Json {
  const root: Json = isObject(config) ? structuredClone(config) : {};
  const all = child(child(child(root, "apps"), "http"), "servers");
  const id = routeId(route.container);

  // The app may have moved to another listen address: its route goes wherever it was.
  for (const [name, server] of Object.entries(servers(root))) {
    if (!Array.isArray(server.routes)) continue;
    server.routes = (server.routes as Json[]).filter((r) => r?.["@id"] !== id);
    if ((server.routes as Json[]).length === 0 && name.startsWith("deploybot-")) delete all[name];
  }

  const name = serverName(route.listen);
  const existing = all[name];
  // Plain HTTP on the address apps.yaml names: no certificates fetched, no redirect to :443.
  const target: Json = isObject(existing) ? existing : { listen: [route.listen], automatic_https: { disable: true }, routes: [] };
  all[name] = target;
  const list: Json[] = Array.isArray(target.routes) ? (target.routes as Json[]) : [];
  target.routes = list;
  for (const other of list) {
    if (hostOf(other) === route.host) {
      const what = route.host === null ? "every Host" : `Host ${route.host}`;
      const otherId = typeof other?.["@id"] === "string" ? other["@id"] : "(without an id)";
      throw new Error(`${route.listen} already sends ${what} to route ${otherId}; give the apps different hosts or listen addresses`);
    }
  }

  const node: Json = { "@id": id };
  if (route.host !== null) node.match = [{ host: [route.host] }];
  node.handle = [{ handler: "reverse_proxy", upstreams: [{ dial: route.upstream }] }];
  node.terminal = true;
  const firstCatchAll = list.findIndex((r) => hostOf(r) === null);
  list.splice(route.host === null || firstCatchAll < 0 ? list.length : firstCatchAll, 0, node);
  return root;
}

function hostOf(route: Json | undefined): string | null {
  const host = ((route?.match as Json[] | undefined)?.[0]?.host as unknown[] | undefined)?.[0];
  return typeof host === "string" ? host : null;
}

function servers(config: unknown): Record<string, Json> {
  const all = (((config as Json | null)?.apps as Json | undefined)?.http as Json | undefined)?.servers;
  if (!isObject(all)) return {};
  return Object.fromEntries(Object.entries(all).filter(([, s]) => isObject(s))) as Record<string, Json>;
}

function routes(server: Json): Json[] {
  return Array.isArray(server.routes) ? (server.routes as Json[]) : [];
}

function child(parent: Json, key: string): Json {
  const existing = parent[key];
  if (isObject(existing)) return existing;
  const made: Json = {};
  parent[key] = made;
  return made;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
