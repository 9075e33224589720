using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>Keeps every log entry with its level.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));

    public int Count(LogLevel level, string containing) =>
        Entries.Count(e => e.Level == level && e.Message.Contains(containing, StringComparison.Ordinal));

    public string Text => string.Join("\n", Entries.Select(e => $"{e.Level}: {e.Message}"));
}
