using System.Text.Json.Nodes;

namespace DeployBot.Agent.Proxy;

/// <summary>Where one app is served: the proxy's listen address, an optional Host, and the upstream it dials.</summary>
public sealed record ProxyRoute(string Listen, string? Host, string Container, string Upstream)
{
    /// <summary>The route's <c>@id</c> in Caddy's config: one route per container name on a host.</summary>
    public string Id => CaddyConfig.RouteId(Container);
}

/// <summary>A route that cannot go into the config as asked, e.g. two apps catching every Host on one listen address.</summary>
public sealed class ProxyConflictException(string message) : Exception(message);

/// <summary>
/// Pure edits of Caddy's JSON config (what <c>GET /config/</c> returns and <c>POST /load</c> takes); no I/O.
/// DeployBot owns the servers named <c>deploybot-…</c> and the routes whose <c>@id</c> is <c>deploybot-&lt;container&gt;</c>;
/// everything else in the config is carried over untouched. The relay has the same functions in TypeScript
/// (ssh-relay/src/caddy.ts); test/fixtures/caddy-config-cases.json pins both.
/// </summary>
public static class CaddyConfig
{
    public static string RouteId(string container) => $"deploybot-{container}";

    /// <summary><c>deploybot-0.0.0.0-80</c> for <c>0.0.0.0:80</c>: one Caddy server per listen address.</summary>
    public static string ServerName(string listen) =>
        "deploybot-" + new string(listen.Select(c => char.IsAsciiLetterOrDigit(c) || c == '.' ? c : '-').ToArray());

    /// <summary>The dial address (<c>127.0.0.1:49153</c>) the route sends traffic to, or null when there is no such route.</summary>
    public static string? Upstream(JsonNode? config, string routeId)
    {
        foreach (var (_, server) in Servers(config))
        {
            foreach (var route in Routes(server))
            {
                if (route?["@id"]?.GetValue<string>() == routeId)
                {
                    return route["handle"]?[0]?["upstreams"]?[0]?["dial"]?.GetValue<string>();
                }
            }
        }
        return null;
    }

    /// <summary>
    /// A copy of <paramref name="config"/> in which <paramref name="route"/> exists exactly once, on the server for
    /// its listen address, sending traffic to its upstream. Routes with a Host come before the catch-all one.
    /// </summary>
    /// <exception cref="ProxyConflictException">Another route on that listen address matches the same Host (or every Host).</exception>
    public static JsonObject WithRoute(JsonNode? config, ProxyRoute route)
    {
        var root = config is JsonObject existing ? (JsonObject)existing.DeepClone() : new JsonObject();
        var servers = Child(Child(Child(root, "apps"), "http"), "servers");

        // The app may have moved to another listen address: its route goes wherever it was.
        foreach (var (name, server) in Servers(root).ToList())
        {
            if (server["routes"] is JsonArray routes)
            {
                foreach (var stale in routes.Where(r => r?["@id"]?.GetValue<string>() == route.Id).ToList())
                {
                    routes.Remove(stale);
                }
                if (routes.Count == 0 && name.StartsWith("deploybot-", StringComparison.Ordinal))
                {
                    servers.Remove(name);
                }
            }
        }

        var serverName = ServerName(route.Listen);
        if (servers[serverName] is not JsonObject target)
        {
            target = new JsonObject
            {
                ["listen"] = new JsonArray(route.Listen),
                // Plain HTTP on the address apps.yaml names: no certificates fetched, no redirect to :443.
                ["automatic_https"] = new JsonObject { ["disable"] = true },
                ["routes"] = new JsonArray(),
            };
            servers[serverName] = target;
        }
        var list = target["routes"] as JsonArray ?? new JsonArray();
        target["routes"] = list;
        foreach (var other in list)
        {
            if (HostOf(other) == route.Host)
            {
                var what = route.Host is null ? "every Host" : $"Host {route.Host}";
                throw new ProxyConflictException(
                    $"{route.Listen} already sends {what} to route {other?["@id"]?.GetValue<string>() ?? "(without an id)"}; give the apps different hosts or listen addresses");
            }
        }

        var node = new JsonObject { ["@id"] = route.Id };
        if (route.Host is not null)
        {
            node["match"] = new JsonArray(new JsonObject { ["host"] = new JsonArray(route.Host) });
        }
        node["handle"] = new JsonArray(new JsonObject
        {
            ["handler"] = "reverse_proxy",
            ["upstreams"] = new JsonArray(new JsonObject { ["dial"] = route.Upstream }),
        });
        node["terminal"] = true;

        var firstCatchAll = list.Select((r, i) => (r, i)).FirstOrDefault(x => HostOf(x.r) is null, (null, list.Count)).Item2;
        list.Insert(route.Host is null ? list.Count : firstCatchAll, node);
        return root;
    }

    private static string? HostOf(JsonNode? route) => route?["match"]?[0]?["host"]?[0]?.GetValue<string>();

    private static IEnumerable<(string Name, JsonObject Server)> Servers(JsonNode? config) =>
        config?["apps"]?["http"]?["servers"] is JsonObject servers
            ? servers.Where(s => s.Value is JsonObject).Select(s => (s.Key, (JsonObject)s.Value!))
            : [];

    private static IEnumerable<JsonNode?> Routes(JsonObject server) =>
        server["routes"] is JsonArray routes ? routes : [];

    private static JsonObject Child(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject child)
        {
            return child;
        }
        child = new JsonObject();
        parent[key] = child;
        return child;
    }
}
