using System.Text;
using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Docker;

/// <summary>Pure builder of the Engine API's <c>X-Registry-Auth</c> header value.</summary>
public static class RegistryAuthHeader
{
    public const string Name = "X-Registry-Auth";

    /// <summary>Base64url (no padding) of <c>{"username","password","serveraddress"}</c>, as the API documents.</summary>
    public static string Encode(RegistryCredentials credentials)
    {
        var json = new JsonObject
        {
            ["username"] = credentials.Username,
            ["password"] = credentials.Password,
            ["serveraddress"] = credentials.ServerAddress ?? "",
        }.ToJsonString();
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
