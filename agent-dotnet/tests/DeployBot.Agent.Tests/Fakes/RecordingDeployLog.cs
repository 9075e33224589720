using System.Collections.Concurrent;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>Keeps every log line; <see cref="Text"/> joins them for assertions and failure messages.</summary>
internal sealed class RecordingDeployLog : IDeployLog
{
    public ConcurrentQueue<(string Stream, string Text)> Lines { get; } = new();

    /// <summary>Called with each line after it is kept, e.g. to cancel a deploy at a given moment.</summary>
    public Action<string>? OnWrite { get; set; }

    public void Write(string stream, string text)
    {
        Lines.Enqueue((stream, text));
        OnWrite?.Invoke(text);
    }

    public string Text => string.Join("\n", Lines.Select(l => $"[{l.Stream}] {l.Text}"));
}
