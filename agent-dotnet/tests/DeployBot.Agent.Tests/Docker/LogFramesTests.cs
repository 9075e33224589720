using System.Text;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class LogFramesTests
{
    private static byte[] Frame(byte stream, string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var header = new byte[] { stream, 0, 0, 0, (byte)(payload.Length >> 24), (byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length };
        return [.. header, .. payload];
    }

    [Fact]
    public void Splits_frames_into_lines_per_stream_and_joins_lines_split_across_frames()
    {
        // Arrange
        byte[] data = [.. Frame(1, "listening on :80\nGET /u"), .. Frame(2, "warn: no /up\r\n"), .. Frame(1, "p 404\n"), .. Frame(2, "tail without newline")];

        // Act
        var lines = LogFrames.Demux(data);

        // Assert
        Assert.Equal(
            [("stdout", "listening on :80"), ("stderr", "warn: no /up"), ("stdout", "GET /up 404"), ("stderr", "tail without newline")],
            lines);
    }

    [Fact]
    public void Keeps_what_there_is_of_a_truncated_frame()
    {
        // Arrange
        var frame = Frame(1, "hello world\n");

        // Act
        var lines = LogFrames.Demux(frame.AsSpan(0, 8 + 5));

        // Assert
        Assert.Equal([("stdout", "hello")], lines);
    }
}
