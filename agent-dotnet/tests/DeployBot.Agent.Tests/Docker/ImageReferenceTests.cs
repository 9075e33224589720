using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("nginx", "nginx", "latest", "nginx:latest")]
    [InlineData("nginx:1.27", "nginx", "1.27", "nginx:1.27")]
    [InlineData("127.0.0.1:5000/deploybot/hello", "127.0.0.1:5000/deploybot/hello", "latest", "127.0.0.1:5000/deploybot/hello:latest")]
    [InlineData("127.0.0.1:5000/deploybot/hello:v1", "127.0.0.1:5000/deploybot/hello", "v1", "127.0.0.1:5000/deploybot/hello:v1")]
    [InlineData("registry.example.com/acme/web@sha256:abc", "registry.example.com/acme/web", "sha256:abc", "registry.example.com/acme/web@sha256:abc")]
    [InlineData("r.io:443/acme/web:v2@sha256:abc", "r.io:443/acme/web", "sha256:abc", "r.io:443/acme/web@sha256:abc")]
    public void Splits_repository_and_tag_or_digest(string image, string repository, string tag, string full)
    {
        // Act
        var reference = ImageReference.Parse(image);

        // Assert
        Assert.Equal((repository, tag, full), (reference.Repository, reference.Tag, reference.FullName));
    }

    [Theory]
    [InlineData("")]
    [InlineData("web:")]
    [InlineData(":v1")]
    [InlineData("web app:v1")]
    [InlineData("web/../x?y")]
    [InlineData("web@nodigest")]
    public void Refuses_malformed_references(string image)
    {
        Assert.Throws<FormatException>(() => ImageReference.Parse(image));
    }
}
