using System.Text.Json.Nodes;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent.Tests.Proxy;

/// <summary>Runs test/fixtures/caddy-config-cases.json, the table the relay's caddy.test.ts runs against its TypeScript twin.</summary>
public sealed class CaddyConfigTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in SharedFixtures.Load("caddy-config-cases.json")["cases"]!.AsArray())
        {
            data.Add(c!["name"]!.GetValue<string>());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Edits_the_config_as_the_shared_table_says(string name)
    {
        // Arrange
        var c = SharedFixtures.Load("caddy-config-cases.json")["cases"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!;
        var r = c["route"]!;
        var route = new ProxyRoute(r["listen"]!.GetValue<string>(), r["host"]?.GetValue<string>(), r["container"]!.GetValue<string>(), r["upstream"]!.GetValue<string>());
        var config = c["config"];
        var before = config?.ToJsonString();

        // Act
        var act = () => CaddyConfig.WithRoute(config, route);

        // Assert
        if (c["error"] is { } error)
        {
            Assert.Contains(error.GetValue<string>(), Assert.Throws<ProxyConflictException>(act).Message);
        }
        else
        {
            var result = act();
            Assert.True(JsonNode.DeepEquals(c["expect"], result), $"expected {c["expect"]!.ToJsonString()}\nbut got {result.ToJsonString()}");
            Assert.Equal(route.Upstream, CaddyConfig.Upstream(result, route.Id));
        }
        Assert.Equal(before, config?.ToJsonString());
        if (c["upstream_before"] is { } upstream)
        {
            Assert.Equal(upstream.GetValue<string>(), CaddyConfig.Upstream(config, route.Id));
        }
    }
}
