using System.Runtime.Versioning;
using DeployBot.Agent.State;

namespace DeployBot.Agent.Tests.State;

[SupportedOSPlatform("linux")]
public sealed class StateFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deploybot-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_identity_round_trips_in_a_file_only_its_owner_can_read()
    {
        // Arrange
        var store = new FileAgentStateStore(_dir);
        var identity = new SavedIdentity("https://deploybot.test/", "host-01", "agent-1", "agent-1.secret");

        // Act
        store.Save(identity);
        store.Save(identity with { Token = "agent-1.newer" });

        // Assert
        Assert.Equal(identity with { Token = "agent-1.newer" }, store.Load());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
        Assert.Equal(["agent.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void The_in_flight_marker_is_written_and_cleared()
    {
        // Arrange
        var store = new FileInFlightStore(_dir);
        var job = new InFlightJob("job-1", 2, "web", "agent-1", new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero));

        // Act
        store.Save(job);
        var loaded = store.Load();
        store.Clear();

        // Assert
        Assert.Equal(job, loaded);
        Assert.Null(store.Load());
        store.Clear(); // clearing twice is fine
    }

    [Fact]
    public void A_damaged_file_is_reported_as_invalid_data()
    {
        // Arrange
        var store = new FileAgentStateStore(_dir);
        File.WriteAllText(store.Path, "{not json");

        // Act, Assert
        Assert.Throws<InvalidDataException>(() => store.Load());
    }
}
