using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// A real Caddy (Debian's package, installed by scripts/services/caddy.sh) run by the test with an empty config and
/// its admin API on a free loopback port; its state lives in a temporary directory. FAILS when caddy is missing.
/// </summary>
public sealed class CaddyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;

    private CaddyProcess(Process process, string home, string admin)
    {
        _process = process;
        _home = home;
        Admin = admin;
    }

    /// <summary><c>127.0.0.1:PORT</c> of the admin API, as apps.yaml's <c>proxy.admin</c> takes it.</summary>
    public string Admin { get; }

    public static async Task<CaddyProcess> StartAsync()
    {
        // Without it a Caddy reload resets the odd queued connection, and "no failed request" would be luck.
        if (File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim() != "1")
        {
            throw new InvalidOperationException("net.ipv4.tcp_migrate_req is not 1. Run `sudo bash scripts/services/caddy.sh`.");
        }
        var home = Directory.CreateTempSubdirectory("deploybot-caddy-").FullName;
        var admin = $"127.0.0.1:{FreePort()}";
        var config = Path.Combine(home, "caddy.json");
        await File.WriteAllTextAsync(config, new System.Text.Json.Nodes.JsonObject { ["admin"] = new System.Text.Json.Nodes.JsonObject { ["listen"] = admin } }.ToJsonString());
        var info = new ProcessStartInfo("caddy", ["run", "--config", config])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        info.Environment["HOME"] = home;
        info.Environment["XDG_DATA_HOME"] = home;
        info.Environment["XDG_CONFIG_HOME"] = home;
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("caddy did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"caddy is not installed ({ex.Message}). Install it with `sudo bash scripts/services/caddy.sh`.", ex);
        }
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var caddy = new CaddyProcess(process, home, admin);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await http.GetStringAsync($"http://{admin}/config/");
                return caddy;
            }
            catch (Exception) when (deadline.Elapsed < TimeSpan.FromSeconds(15) && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
