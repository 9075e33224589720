using System.Text;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class RegistryAuthHeaderTests
{
    [Fact]
    public void Encodes_the_credentials_as_url_safe_base64_json()
    {
        // Arrange: a password whose base64 has '+', '/' and padding.
        var credentials = new RegistryCredentials("deploy", "p>?~>?~", "registry.example.com");

        // Act
        var header = RegistryAuthHeader.Encode(credentials);

        // Assert
        Assert.DoesNotContain('+', header);
        Assert.DoesNotContain('/', header);
        Assert.DoesNotContain('=', header);
        var padded = header.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - padded.Length % 4) % 4);
        Assert.Equal(
            """{"username":"deploy","password":"p\u003E?~\u003E?~","serveraddress":"registry.example.com"}""",
            Encoding.UTF8.GetString(Convert.FromBase64String(padded)));
    }
}
