using System.Text.RegularExpressions;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Agent;

/// <summary>
/// The agent's settings, from appsettings.json and the environment (the environment wins). Keys are the
/// environment variable names: DEPLOYBOT_URL, DEPLOYBOT_ENROLL_TOKEN, DEPLOYBOT_HOSTNAME,
/// DEPLOYBOT_STATE_DIR, DOCKER_HOST, and optionally DEPLOYBOT_REGISTRY_USERNAME / _PASSWORD / _SERVER.
/// </summary>
public sealed record AgentSettings
{
    public const string DefaultStateDirectory = "/var/lib/deploybot-agent";

    public required Uri ControllerUrl { get; init; }
    public required string EnrollToken { get; init; }
    public required string Hostname { get; init; }
    public required string StateDirectory { get; init; }
    public required DockerEndpoint Docker { get; init; }
    public RegistryCredentials? Registry { get; init; }

    /// <summary>Long-poll wait of an idle heartbeat (protocol §2: 50 s).</summary>
    public int IdleWaitSeconds { get; init; } = 50;

    /// <summary>How long a stopping agent keeps reporting on the job it cancelled before it exits anyway.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(120);

    public static string Version { get; } =
        typeof(AgentSettings).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    private static readonly Regex HostName = new("^[A-Za-z0-9._-]{1,63}$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Reads and checks every setting, and creates the state directory when it is missing. Returns the
    /// settings, or null with one clear message per bad value.
    /// </summary>
    /// <param name="machineName">The machine's host name, the default of DEPLOYBOT_HOSTNAME.</param>
    public static AgentSettings? Load(IConfiguration configuration, Func<string> machineName, out IReadOnlyList<string> problems)
    {
        var errors = new List<string>();
        string? Get(string key) => configuration[key] is { Length: > 0 } value ? value.Trim() : null;

        Uri? url = null;
        var rawUrl = Get("DEPLOYBOT_URL");
        if (rawUrl is null)
        {
            errors.Add("DEPLOYBOT_URL is not set: set it to the controller's address, e.g. https://deploybot.example.workers.dev");
        }
        else if (!Uri.TryCreate(rawUrl, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")
                 || url.Host.Length == 0 || url.Query.Length > 0 || url.Fragment.Length > 0)
        {
            errors.Add($"DEPLOYBOT_URL \"{rawUrl}\" is not an http(s) URL of the controller (no query or fragment), e.g. https://deploybot.example.workers.dev");
            url = null;
        }

        var token = Get("DEPLOYBOT_ENROLL_TOKEN");
        if (token is null)
        {
            errors.Add("DEPLOYBOT_ENROLL_TOKEN is not set: set it to the controller's AGENT_ENROLL_TOKEN");
        }
        else if (token.Any(char.IsWhiteSpace))
        {
            errors.Add("DEPLOYBOT_ENROLL_TOKEN contains whitespace; copy the token exactly");
        }

        var hostname = Get("DEPLOYBOT_HOSTNAME");
        if (hostname is null)
        {
            var machine = machineName();
            if (HostName.IsMatch(machine))
            {
                hostname = machine;
            }
            else
            {
                errors.Add($"DEPLOYBOT_HOSTNAME is not set and the machine's name \"{machine}\" is not a valid host name (1-63 letters, digits, '.', '_' or '-'): set DEPLOYBOT_HOSTNAME to this host's name in apps.yaml");
            }
        }
        else if (!HostName.IsMatch(hostname))
        {
            errors.Add($"DEPLOYBOT_HOSTNAME \"{hostname}\" is not a valid host name: use 1-63 letters, digits, '.', '_' or '-', as in apps.yaml");
            hostname = null;
        }

        var stateDirectory = Get("DEPLOYBOT_STATE_DIR") ?? DefaultStateDirectory;
        if (!Path.IsPathFullyQualified(stateDirectory))
        {
            errors.Add($"DEPLOYBOT_STATE_DIR \"{stateDirectory}\" must be an absolute path");
        }
        else if (CheckWritable(stateDirectory) is { } why)
        {
            errors.Add($"DEPLOYBOT_STATE_DIR \"{stateDirectory}\" cannot be used: {why}");
        }

        DockerEndpoint? docker = null;
        try
        {
            docker = DockerEndpoint.Parse(Get("DOCKER_HOST"));
        }
        catch (FormatException ex)
        {
            errors.Add(ex.Message);
        }

        RegistryCredentials? registry = null;
        var (user, password) = (Get("DEPLOYBOT_REGISTRY_USERNAME"), Get("DEPLOYBOT_REGISTRY_PASSWORD"));
        if ((user is null) != (password is null))
        {
            errors.Add("DEPLOYBOT_REGISTRY_USERNAME and DEPLOYBOT_REGISTRY_PASSWORD must be set together");
        }
        else if (user is not null)
        {
            registry = new RegistryCredentials(user, password!, Get("DEPLOYBOT_REGISTRY_SERVER"));
        }

        problems = errors;
        if (errors.Count > 0)
        {
            return null;
        }
        return new AgentSettings
        {
            ControllerUrl = url!,
            EnrollToken = token!,
            Hostname = hostname!,
            StateDirectory = stateDirectory,
            Docker = docker!,
            Registry = registry,
        };
    }

    private static string? CheckWritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{ex.Message} (the agent keeps its identity there; it must be writable by the agent's user)";
        }
    }
}
