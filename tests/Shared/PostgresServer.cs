using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace ModelMix.Tests.Shared;

/// <summary>
/// A real PostgreSQL server for the tests: the one <c>MODELMIX_TEST_POSTGRES</c> names (an Npgsql connection
/// string or postgres:// URL of a superuser), else a throwaway cluster this process creates with the local
/// PostgreSQL binaries (<c>/usr/lib/postgresql/*/bin</c>): <c>initdb</c> into a temp folder (as the
/// <c>postgres</c> user when running as root, which initdb refuses), <c>pg_ctl start</c> on a free loopback port,
/// stopped and deleted when the test process exits. One cluster per test run; each test class asks for a fresh
/// database with <see cref="CreateDatabaseAsync"/>. Without PostgreSQL the tests fail with the way to install it.
/// </summary>
public sealed class PostgresServer
{
    /// <summary>The environment variable naming an existing server to use instead of a throwaway cluster.</summary>
    public const string EnvironmentVariable = "MODELMIX_TEST_POSTGRES";

    private static readonly Lazy<Task<PostgresServer>> Shared = new(() => Task.Run(() => StartAsync(durable: false)));

    private const string FolderPrefix = "modelmix-pg-";

    private readonly string _adminConnectionString;

    private PostgresServer(string adminConnectionString)
    {
        _adminConnectionString = adminConnectionString;
    }

    /// <summary>The server of this test run (started on first use).</summary>
    public static Task<PostgresServer> GetAsync() => Shared.Value;

    /// <summary>Creates an empty database and returns an Npgsql connection string for it.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "mmx")
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\";", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    /// <summary>Starts a server: the one of <see cref="EnvironmentVariable"/>, or a new throwaway cluster.</summary>
    /// <param name="durable">For a throwaway cluster: keep fsync on (benchmarks) rather than off (tests).</param>
    public static async Task<PostgresServer> StartAsync(bool durable)
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } given)
        {
            var location = ModelMix.Stores.StoreLocation.Parse(given);
            return new PostgresServer(location.IsLocalFile ? given : location.Value);
        }

        var bin = FindBinaries() ?? throw new InvalidOperationException(
            "The PostgreSQL tests need a PostgreSQL server, and none was found: no /usr/lib/postgresql/*/bin/initdb and " +
            $"{EnvironmentVariable} is not set. Install it (Debian/Ubuntu: sudo apt-get install -y postgresql; .ci/run does this), " +
            $"or set {EnvironmentVariable} to the connection string of a superuser on a server you own " +
            "(e.g. Host=127.0.0.1;Port=5432;Username=postgres;Password=…).");
        var root = Environment.UserName == "root";
        RemoveAbandonedClusters();
        var folder = Path.Combine(Path.GetTempPath(), FolderPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        if (root)
        {
            // initdb refuses to run as root: the cluster belongs to the postgres system user.
            await RunAsync("chown", ["postgres", folder], asPostgres: false);
        }

        var data = Path.Combine(folder, "data");
        var port = FreePort();
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"], root);
        var settings = $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=500 -c shared_buffers=64MB" +
            (durable ? string.Empty : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", data, "-o", settings, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "120", "start"], root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], root).GetAwaiter().GetResult();
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception exception) when (exception is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                // The temp folder is cleaned by the OS eventually.
            }
        };

        return new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=60;Command Timeout=120");
    }

    /// <summary>
    /// Deletes the folders of earlier runs' clusters whose server is no longer running. The exit handler above is
    /// meant to do it, but the test host can be ended before the handler gets that far, and every full run used to
    /// leave its clusters in the temp folder. A folder is left alone while its server runs (another test process
    /// may be using it) and for its first ten minutes (another test process may be running <c>initdb</c> in it).
    /// </summary>
    private static void RemoveAbandonedClusters()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            try
            {
                if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) < TimeSpan.FromMinutes(10) || ServerRuns(folder))
                {
                    continue;
                }

                Directory.Delete(folder, recursive: true);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Not ours to delete after all (another user's, or in use): leave it.
            }
        }
    }

    /// <summary>Whether the cluster in <paramref name="folder"/> has a running server (its postmaster.pid names a live process).</summary>
    private static bool ServerRuns(string folder)
    {
        var pidFile = Path.Combine(folder, "data", "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return false;
        }

        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        if (!int.TryParse(firstLine, out var pid))
        {
            return true; // being written: assume it runs
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
    }

    private static string? FindBinaries()
    {
        const string Root = "/usr/lib/postgresql";
        if (!Directory.Exists(Root))
        {
            return null;
        }

        return Directory.GetDirectories(Root)
            .Select(version => Path.Combine(version, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var major) ? major : 0)
            .FirstOrDefault();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var start = new ProcessStartInfo
        {
            FileName = asPostgres ? "runuser" : file,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgres)
        {
            foreach (var argument in new[] { "-u", "postgres", "--", file })
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {await error}{await output}");
        }
    }
}
