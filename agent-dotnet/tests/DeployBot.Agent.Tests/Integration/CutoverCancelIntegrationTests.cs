using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Proxy;
using DeployBot.Agent.Tests.Fakes;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// Every cancel of a cutover in test/fixtures/deploy-scenarios.json, for real (engine, Caddy, a load loop), as the
/// relay's cancel.test.ts runs them over SSH. Each cancel is timed by what the deploy does (a line it logs, its first
/// call of Caddy's admin API), never by a timer, so it lands in its step every time.
/// </summary>
public sealed partial class CutoverIntegrationTests
{
    /// <summary>When to cancel for each scenario: a log line's start, or "admin" for the proxy step's first call.</summary>
    private static readonly Dictionary<string, string> CancelMoments = new()
    {
        ["cancel at pull"] = "pulling ",
        ["cancel at proxy"] = "admin",
        ["cancel at start"] = "proxy: Caddy answers at ",
        ["cancel at health"] = "new container started: ",
        ["cancel at switch"] = "healthy after ",
        ["cancel after the switch is ignored"] = "traffic switched to ",
    };

    public static TheoryData<string> CutoverCancels() => new(CutoverCancelNames());

    private static IEnumerable<string> CutoverCancelNames() =>
        SharedFixtures.Load("deploy-scenarios.json")["scenarios"]!.AsArray()
            .Select(s => s!["name"]!.GetValue<string>())
            .Where(CancelMoments.ContainsKey);

    [Fact]
    public void Every_cutover_cancel_of_the_shared_table_has_a_moment()
    {
        Assert.Equal(CancelMoments.Keys.Order(), CutoverCancelNames().Order());
    }

    [Theory]
    [MemberData(nameof(CutoverCancels))]
    public async Task A_cancel_lands_in_its_step_loses_no_request_and_leaves_one_release(string scenario)
    {
        // Arrange
        var expected = SharedFixtures.Load("deploy-scenarios.json")["scenarios"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == scenario)!;
        var old = await DeployAsync("v1");
        await using var load = new LoadLoop(Url);
        await load.WaitForSuccessesAsync(5);
        using var cancel = new CancellationTokenSource();
        var moment = CancelMoments[scenario];
        var admin = new CancellingAdmin(_admin, moment == "admin" ? cancel : null);
        var log = new RecordingDeployLog { OnWrite = text => { if (text.StartsWith(moment, StringComparison.Ordinal)) cancel.Cancel(); } };

        // Act
        var result = await Engine(admin).DeployAsync(Job("v2"), log, cancel.Token);
        await load.WaitForSuccessesAsync(3);

        // Assert
        output.WriteLine(log.Text);
        Assert.Equal(expected["summary"]?.GetValue<string>(), result.Summary);
        Assert.Equal(expected["end"]!["step"]!.GetValue<string>(), DeployResult.StepName(result.Step));
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}");
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        var live = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.Equal(live.PublishedAt("80/tcp"), CaddyConfig.Upstream(await _admin.GetConfigAsync(_caddy.Admin, default), CaddyConfig.RouteId(_name)));
        if (result.Outcome == DeployOutcome.Succeeded)
        {
            Assert.NotEqual(old.Id, live.Id);
            Assert.Equal("hello v2", (await fixture.Http.GetStringAsync(Url)).Trim());
        }
        else
        {
            await AssertOnlyAsync(old);
        }
    }

    /// <summary>Caddy's admin API, cancelling the deploy at its first call when given a source to cancel.</summary>
    private sealed class CancellingAdmin(IProxyAdmin inner, CancellationTokenSource? cancelAtFirstCall) : IProxyAdmin
    {
        public Task<JsonNode?> GetConfigAsync(string admin, CancellationToken cancellationToken)
        {
            cancelAtFirstCall?.Cancel();
            return inner.GetConfigAsync(admin, cancellationToken);
        }

        public Task LoadAsync(string admin, JsonObject config, CancellationToken cancellationToken) => inner.LoadAsync(admin, config, cancellationToken);

        public Task<int> InFlightAsync(string admin, string dial, CancellationToken cancellationToken) => inner.InFlightAsync(admin, dial, cancellationToken);
    }
}
