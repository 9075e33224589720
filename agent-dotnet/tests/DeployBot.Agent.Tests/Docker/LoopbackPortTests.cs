using System.Net;
using System.Net.Sockets;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class LoopbackPortTests
{
    [Fact]
    public void Free_gives_a_port_nothing_listens_on_that_was_not_tried_yet()
    {
        // Arrange: a port that is taken, and one that was tried already
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var takenPort = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var tried = new HashSet<int> { LoopbackPort.Free(new HashSet<int>()) };

        // Act
        var port = LoopbackPort.Free(tried);

        // Assert: it can be bound on 127.0.0.1 right now
        Assert.NotEqual(takenPort, port);
        Assert.DoesNotContain(port, tried);
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
    }

    [Theory]
    [InlineData("driver failed programming external connectivity on endpoint web-next-j1 (ab12): Bind for 127.0.0.1:45111 failed: port is already allocated", true)]
    [InlineData("driver failed programming external connectivity on endpoint web-next-j1 (ab12): Error starting userland proxy: listen tcp4 127.0.0.1:45111: bind: address already in use", true)]
    [InlineData("No such image: r/web:1", false)]
    public void IsConflict_tells_a_taken_port_from_other_refusals(string engineMessage, bool conflict)
    {
        Assert.Equal(conflict, LoopbackPort.IsConflict(new DockerApiException(500, engineMessage, "POST /containers/x/start")));
        Assert.False(LoopbackPort.IsConflict(new IOException(engineMessage)));
    }
}
