using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class PullProgressTests
{
    [Theory]
    [InlineData("""{"status":"Pulling from deploybot/hello","id":"v1"}""", "v1: Pulling from deploybot/hello", null, true)]
    [InlineData("""{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=>  ]","id":"a1b2"}""", "a1b2: Downloading", null, false)]
    [InlineData("""{"status":"Status: Image is up to date for 127.0.0.1:5000/deploybot/hello:v1"}""", "Status: Image is up to date for 127.0.0.1:5000/deploybot/hello:v1", null, true)]
    [InlineData("""{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown (short)"}""", "manifest unknown", "manifest unknown", true)]
    [InlineData("""{"error":"unauthorized"}""", "unauthorized", "unauthorized", true)]
    [InlineData("not json", "not json", null, true)]
    public void Reads_one_line(string line, string text, string? error, bool noteworthy)
    {
        // Act
        var progress = PullProgress.Parse(line);

        // Assert
        Assert.Equal((text, error, noteworthy), (progress.ToString(), progress.Error, progress.IsNoteworthy));
    }
}
