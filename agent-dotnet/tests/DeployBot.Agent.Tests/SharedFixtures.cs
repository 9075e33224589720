using System.Text.Json.Nodes;

namespace DeployBot.Agent.Tests;

/// <summary>The tables in the repository's test/fixtures/ that the relay's suite runs too: one behaviour, two languages.</summary>
internal static class SharedFixtures
{
    /// <summary>test/fixtures/<paramref name="file"/>, found by walking up from the test binaries to the repository root.</summary>
    public static JsonNode Load(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "test", "fixtures", file);
            if (File.Exists(path))
            {
                return JsonNode.Parse(File.ReadAllText(path))!;
            }
        }
        throw new FileNotFoundException($"test/fixtures/{file} not found above {AppContext.BaseDirectory}");
    }
}
