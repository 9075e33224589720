using System.Text.Json;

namespace DeployBot.Agent.Docker;

/// <summary>One line of a pull's progress stream: <c>{"status","id","progress"}</c> or <c>{"error","errorDetail"}</c>.</summary>
public sealed record PullProgress(string? Id, string? Status, string? Error)
{
    /// <summary>Parses one line; a line that is not a JSON object yields a status holding the raw text.</summary>
    public static PullProgress Parse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new PullProgress(null, line, null);
            }
            return new PullProgress(Str(root, "id"), Str(root, "status"), ErrorOf(root));
        }
        catch (JsonException)
        {
            return new PullProgress(null, line, null);
        }
    }

    /// <summary>
    /// Whether the line is worth a log line: layer byte counters ("Downloading", "Extracting" with a
    /// progress bar) arrive many times a second and are left out.
    /// </summary>
    public bool IsNoteworthy => Error is not null
        || (Status is not null && Status is not ("Downloading" or "Extracting" or "Waiting" or "Verifying Checksum"));

    public override string ToString() => Error ?? (Id is null ? Status ?? "" : $"{Id}: {Status}");

    private static string? ErrorOf(JsonElement root)
    {
        if (root.TryGetProperty("errorDetail", out var detail) && detail.ValueKind == JsonValueKind.Object
            && Str(detail, "message") is { Length: > 0 } message)
        {
            return message;
        }
        return Str(root, "error");
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
