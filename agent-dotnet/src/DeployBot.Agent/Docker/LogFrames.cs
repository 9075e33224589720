using System.Text;

namespace DeployBot.Agent.Docker;

/// <summary>
/// Splits the multiplexed stream of <c>GET /containers/{id}/logs</c> for a container without a TTY:
/// frames of an 8-byte header (stream type, 3 zero bytes, big-endian length) followed by the payload.
/// </summary>
public static class LogFrames
{
    /// <summary>Lines with their stream ("stdout" or "stderr"); a truncated last frame is kept as far as it goes.</summary>
    public static IReadOnlyList<(string Stream, string Text)> Demux(ReadOnlySpan<byte> data)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var lines = new List<(string, string)>();
        var offset = 0;
        while (offset + 8 <= data.Length)
        {
            var stream = data[offset] == 2 ? "stderr" : "stdout";
            var length = (data[offset + 4] << 24) | (data[offset + 5] << 16) | (data[offset + 6] << 8) | data[offset + 7];
            offset += 8;
            var take = Math.Min(length, data.Length - offset);
            var target = stream == "stderr" ? stderr : stdout;
            target.Append(Encoding.UTF8.GetString(data.Slice(offset, take)));
            offset += take;
            Flush(target, stream, lines, final: false);
        }
        Flush(stdout, "stdout", lines, final: true);
        Flush(stderr, "stderr", lines, final: true);
        return lines;
    }

    private static void Flush(StringBuilder buffer, string stream, List<(string, string)> lines, bool final)
    {
        var text = buffer.ToString();
        var parts = text.Split('\n');
        var complete = final ? parts.Length : parts.Length - 1;
        for (var i = 0; i < complete; i++)
        {
            if (!(final && i == parts.Length - 1 && parts[i].Length == 0))
            {
                lines.Add((stream, parts[i].TrimEnd('\r')));
            }
        }
        buffer.Clear();
        if (!final)
        {
            buffer.Append(parts[^1]);
        }
    }
}
