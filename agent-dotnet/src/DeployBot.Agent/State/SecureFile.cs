using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DeployBot.Agent.State;

/// <summary>
/// Small JSON files only this user can read (0600), replaced atomically: written to a temporary file
/// created with that mode, flushed to disk, then renamed over the old one, so a crash leaves the old
/// file or the new one, never half of one.
/// </summary>
internal static class SecureFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Write<T>(string path, T value, JsonTypeInfo<T> type)
    {
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }
        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, value, type);
            stream.Flush(flushToDisk: true);
        }
        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode applies only to a new file; a leftover temp file keeps its old mode.
            File.SetUnixFileMode(temp, OwnerOnly);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Null when the file does not exist.</summary>
    /// <exception cref="InvalidDataException">The file exists but is not the expected JSON.</exception>
    public static T? Read<T>(string path, JsonTypeInfo<T> type) where T : class
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), type)
                ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {ex.Message}", ex);
        }
    }
}
