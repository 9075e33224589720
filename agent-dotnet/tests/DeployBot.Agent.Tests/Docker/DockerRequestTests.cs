using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

/// <summary>The Engine API calls as strings, the way Kamal tests its docker argv.</summary>
public sealed class DockerRequestTests
{
    [Fact]
    public void Builds_each_call()
    {
        var image = ImageReference.Parse("127.0.0.1:5000/deploybot/hello:v1");
        Assert.Equal("GET /_ping", DockerRequest.Ping().ToString());
        Assert.Equal("GET /images/127.0.0.1:5000/deploybot/hello:v1/json", DockerRequest.InspectImage(image).ToString());
        Assert.Equal("POST /images/create?fromImage=127.0.0.1%3A5000%2Fdeploybot%2Fhello&tag=v1", DockerRequest.PullImage(image, null).ToString());
        Assert.Equal("GET /containers/web/json", DockerRequest.InspectContainer("web").ToString());
        Assert.Equal("GET /containers/json?all=true&filters=%7B%22name%22%3A%5B%22web%22%5D%7D", DockerRequest.ListContainers("web").ToString());
        Assert.Equal("POST /containers/create?name=web", DockerRequest.CreateContainer("web", new JsonObject()).ToString());
        Assert.Equal("POST /containers/abc/start", DockerRequest.StartContainer("abc").ToString());
        Assert.Equal("POST /containers/abc/stop?t=10", DockerRequest.StopContainer("abc", TimeSpan.FromSeconds(10)).ToString());
        Assert.Equal("POST /containers/abc/stop?t=2", DockerRequest.StopContainer("abc", TimeSpan.FromMilliseconds(1500)).ToString());
        Assert.Equal("POST /containers/abc/rename?name=web-previous-j1", DockerRequest.RenameContainer("abc", "web-previous-j1").ToString());
        Assert.Equal("DELETE /containers/abc?force=true&v=true", DockerRequest.RemoveContainer("abc").ToString());
        Assert.Equal("GET /containers/abc/logs?stdout=true&stderr=true&tail=20", DockerRequest.ContainerLogs("abc", 20).ToString());
    }

    [Fact]
    public void A_pull_carries_registry_credentials_only_when_given()
    {
        var image = ImageReference.Parse("registry.example.com/acme/web@sha256:abc");
        Assert.Null(DockerRequest.PullImage(image, null).RegistryAuth);
        var withAuth = DockerRequest.PullImage(image, new RegistryCredentials("u", "p", "registry.example.com"));
        Assert.Equal(RegistryAuthHeader.Encode(new RegistryCredentials("u", "p", "registry.example.com")), withAuth.RegistryAuth);
        Assert.Equal("POST /images/create?fromImage=registry.example.com%2Facme%2Fweb&tag=sha256%3Aabc", withAuth.ToString());
    }

    [Fact]
    public void A_create_carries_its_body()
    {
        var body = new JsonObject { ["Image"] = "x:1" };
        Assert.Same(body, DockerRequest.CreateContainer("web", body).Body);
    }
}
