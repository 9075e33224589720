using System.Text.Json;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class ContainerParseTests
{
    [Fact]
    public void Reads_the_fields_the_engine_needs_from_an_inspect_answer()
    {
        // Arrange: trimmed from a real GET /containers/web/json answer.
        const string json = """
            {"Id":"9ab72f57ad28","Name":"/web","State":{"Status":"exited","Running":false,"ExitCode":137,"StartedAt":"2026-11-27T00:40:01.5Z"},
             "Config":{"Image":"127.0.0.1:5000/deploybot/hello:v1","Labels":{"deploybot.app":"hello","deploybot.job":"j1"}}}
            """;
        using var doc = JsonDocument.Parse(json);

        // Act
        var info = DockerClient.ParseContainer(doc.RootElement);

        // Assert
        Assert.Equal(("9ab72f57ad28", "web", "127.0.0.1:5000/deploybot/hello:v1", false, "exited", 137, "2026-11-27T00:40:01.5Z"),
            (info.Id, info.Name, info.Image, info.Running, info.Status, info.ExitCode, info.StartedAt));
        Assert.Equal("j1", info.Labels["deploybot.job"]);
    }

    [Fact]
    public void Tolerates_null_labels()
    {
        using var doc = JsonDocument.Parse("""{"Id":"x","Name":"/a","State":{"Status":"created","Running":false},"Config":{"Image":"i","Labels":null}}""");
        Assert.Empty(DockerClient.ParseContainer(doc.RootElement).Labels);
    }
}
