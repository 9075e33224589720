using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// The real Docker engine and local registry that scripts/services/docker.sh starts. When either is
/// missing, every test in the collection FAILS with the reason (these tests never skip).
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public const string Registry = "127.0.0.1:5000";

    public static string Image(string tag) => $"{Registry}/deploybot/hello:{tag}";

    public DockerClient Docker { get; } = new(DockerEndpoint.Parse(Environment.GetEnvironmentVariable("DOCKER_HOST")), TimeProvider.System);

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(5) };

    public async Task InitializeAsync()
    {
        const string fix = "Start it with `sudo bash scripts/services/docker.sh` before running these tests.";
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Docker.PingAsync(timeout.Token);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"No Docker engine answers at {Docker.Endpoint}: {ex.Message}. {fix}", ex);
        }

        string tags;
        try
        {
            tags = await Http.GetStringAsync($"http://{Registry}/v2/deploybot/hello/tags/list");
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"No registry with deploybot/hello answers at {Registry}: {ex.Message}. {fix}", ex);
        }
        foreach (var tag in new[] { "v1", "v2", "broken" })
        {
            if (!tags.Contains($"\"{tag}\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The registry at {Registry} lacks deploybot/hello:{tag} (it has {tags}). {fix}");
            }
        }
    }

    public Task DisposeAsync()
    {
        Docker.Dispose();
        Http.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    public const string Name = "real docker engine and registry";
}
