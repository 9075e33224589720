using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class PortMappingTests
{
    [Theory]
    [InlineData("8080:80", "", 8080, 80, "tcp")]
    [InlineData("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, "tcp")]
    [InlineData("0.0.0.0:53:53/udp", "0.0.0.0", 53, 53, "udp")]
    [InlineData("65535:1/tcp", "", 65535, 1, "tcp")]
    public void Accepts_the_controller_grammar(string text, string ip, int hostPort, int containerPort, string protocol)
    {
        Assert.Equal(new PortMapping(ip, hostPort, containerPort, protocol), PortMapping.Parse(text));
    }

    [Theory]
    [InlineData("80")]
    [InlineData("a:b")]
    [InlineData("0:80")]
    [InlineData("8080:65536")]
    [InlineData("8080:80/sctp")]
    [InlineData("host:8080:80")]
    [InlineData("1:2:3:4")]
    [InlineData("+80:80")]
    public void Refuses_anything_else(string text)
    {
        Assert.Throws<FormatException>(() => PortMapping.Parse(text));
    }
}
