using DeployBot.Agent.Agent;
using Microsoft.Extensions.Configuration;

namespace DeployBot.Agent.Tests.Agent;

public sealed class AgentSettingsTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("deploybot-settings-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    private Dictionary<string, string?> Valid() => new()
    {
        ["DEPLOYBOT_URL"] = "https://deploybot.example.workers.dev",
        ["DEPLOYBOT_ENROLL_TOKEN"] = "enroll-secret",
        ["DEPLOYBOT_STATE_DIR"] = _stateDir,
    };

    private static (AgentSettings? Settings, IReadOnlyList<string> Problems) Load(Dictionary<string, string?> values, string machine = "web-01")
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var settings = AgentSettings.Load(configuration, () => machine, out var problems);
        return (settings, problems);
    }

    [Fact]
    public void Valid_settings_load_with_the_machine_name_as_the_default_host_name()
    {
        // Arrange, Act
        var (settings, problems) = Load(Valid());

        // Assert
        Assert.Empty(problems);
        Assert.Equal(("web-01", "https://deploybot.example.workers.dev/", "/var/run/docker.sock"),
            (settings!.Hostname, settings.ControllerUrl.AbsoluteUri, settings.Docker.SocketPath));
        Assert.Null(settings.Registry);
    }

    [Theory]
    [InlineData("DEPLOYBOT_URL", null, "DEPLOYBOT_URL is not set")]
    [InlineData("DEPLOYBOT_URL", "deploybot.example.com", "DEPLOYBOT_URL \"deploybot.example.com\" is not an http(s) URL")]
    [InlineData("DEPLOYBOT_URL", "ftp://deploybot.example.com", "is not an http(s) URL")]
    [InlineData("DEPLOYBOT_URL", "https://deploybot.example.com/?x=1", "no query or fragment")]
    [InlineData("DEPLOYBOT_ENROLL_TOKEN", null, "DEPLOYBOT_ENROLL_TOKEN is not set")]
    [InlineData("DEPLOYBOT_ENROLL_TOKEN", "two words", "DEPLOYBOT_ENROLL_TOKEN contains whitespace")]
    [InlineData("DEPLOYBOT_HOSTNAME", "web 01", "DEPLOYBOT_HOSTNAME \"web 01\" is not a valid host name")]
    [InlineData("DEPLOYBOT_STATE_DIR", "state", "DEPLOYBOT_STATE_DIR \"state\" must be an absolute path")]
    [InlineData("DEPLOYBOT_STATE_DIR", "/proc/deploybot", "DEPLOYBOT_STATE_DIR \"/proc/deploybot\" cannot be used")]
    [InlineData("DOCKER_HOST", "ssh://docker@host", "DOCKER_HOST \"ssh://docker@host\" is not supported")]
    [InlineData("DEPLOYBOT_REGISTRY_USERNAME", "ci", "must be set together")]
    public void Each_bad_value_gets_a_message_naming_it(string key, string? value, string message)
    {
        // Arrange
        var values = Valid();
        values[key] = value;

        // Act
        var (settings, problems) = Load(values);

        // Assert
        Assert.Null(settings);
        Assert.Contains(message, Assert.Single(problems));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        // Arrange, Act
        var (_, problems) = Load(new Dictionary<string, string?> { ["DEPLOYBOT_STATE_DIR"] = _stateDir }, machine: "a name with spaces");

        // Assert
        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("DEPLOYBOT_HOSTNAME is not set and the machine's name \"a name with spaces\""));
    }
}
