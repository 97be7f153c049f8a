using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Classify.Tests;

/// <summary>How <see cref="ModelServer"/> answers the next request for a file.</summary>
internal enum ServerFault
{
    /// <summary>HTTP/1.1 200, or 206 for a Range request, as a real server.</summary>
    None,
    /// <summary>Sends the headers and half of the body, then closes the connection.</summary>
    CloseHalfway,
    /// <summary>Accepts the connection, reads the request, never answers.</summary>
    Hang,
    /// <summary>404 Not Found.</summary>
    NotFound,
    /// <summary>The right length with one byte changed (a wrong mirror file, a meddling proxy).</summary>
    Corrupt,
}

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 (a TcpListener, so that faults a framework would not produce can be made:
/// a body cut short, a connection that never answers), serving files by path with Range support. Each request is
/// answered by the next queued fault, then normally.
/// </summary>
internal sealed class ModelServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ServerFault> _faults = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _hanging = [];

    public ModelServer()
    {
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Every request line and its Range header ("GET /a/b.onnx bytes=1000-"), in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>A pause after every 64 KiB of a body: a slow link.</summary>
    public TimeSpan BodyDelay { get; set; }

    /// <summary>The number of response bodies sent in full.</summary>
    public int CompleteBodies;

    public void Serve(string path, byte[] content) => _files["/" + path.TrimStart('/')] = content;

    public void Then(params ServerFault[] faults)
    {
        foreach (var f in faults) _faults.Enqueue(f);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => Handle(client));
        }
    }

    private async Task Handle(TcpClient client)
    {
        var stream = client.GetStream();
        var reader = new StreamReader(stream, Encoding.ASCII);
        try
        {
            var requestLine = await reader.ReadLineAsync() ?? "";
            string? range = null;
            for (var line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
                if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))
                    range = line[6..].Trim();
            var path = requestLine.Split(' ') is [_, var p, ..] ? p : "/";
            // As a proxy, the server is sent the whole URL: serve it by its path, and record that it came that way.
            var proxied = path.StartsWith("http://", StringComparison.Ordinal);
            if (proxied) path = new Uri(path).AbsolutePath;
            Requests.Enqueue($"{requestLine.Split(' ')[0]} {path} {range}".TrimEnd() + (proxied ? " (proxied)" : ""));
            var fault = _faults.TryDequeue(out var f) ? f : ServerFault.None;
            if (fault == ServerFault.Hang)
            {
                lock (_hanging) _hanging.Add(client);
                return; // kept open until the server is disposed
            }
            if (fault == ServerFault.NotFound || !_files.TryGetValue(path, out var content))
            {
                await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            if (fault == ServerFault.Corrupt)
            {
                content = (byte[])content.Clone();
                content[content.Length / 2] ^= 0xff;
            }
            var from = range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && long.TryParse(range[6..].TrimEnd('-'), out var r) ? r : 0;
            var body = content.AsMemory((int)from);
            var head = from > 0
                ? $"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{content.Length - 1}/{content.Length}\r\n"
                : "HTTP/1.1 200 OK\r\n";
            await Write(stream, head + $"Content-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
            if (fault == ServerFault.CloseHalfway)
            {
                await stream.WriteAsync(body[..(body.Length / 2)]);
                await stream.FlushAsync();
                client.Client.Shutdown(SocketShutdown.Both);
                return;
            }
            for (var at = 0; at < body.Length; at += 1 << 16)
            {
                await stream.WriteAsync(body[at..Math.Min(body.Length, at + (1 << 16))]);
                if (BodyDelay > TimeSpan.Zero) await Task.Delay(BodyDelay);
            }
            Interlocked.Increment(ref CompleteBodies);
        }
        catch (IOException)
        {
            // The client went away (a timeout on its side): nothing to answer.
        }
        finally
        {
            lock (_hanging)
                if (!_hanging.Contains(client)) client.Dispose();
        }
    }

    private static Task Write(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_hanging)
            foreach (var c in _hanging) c.Dispose();
    }
}
