using System.Runtime.InteropServices;

namespace Classify.Output;

/// <summary>
/// A write that fails (a full disk, /dev/full, a quota, a reader of standard output that went away) as classify's one-line
/// error with exit code 14 (OutputFailed) naming what could not be written, instead of an internal error or, for a
/// closed pipe, silent success.
/// </summary>
public static partial class OutputFaults
{
    public const int EIO = 5, EFBIG = 27, ENOSPC = 28, EROFS = 30, EPIPE = 32, EDQUOT = 122;

    /// <summary>The name of standard output in messages.</summary>
    public const string StandardOutput = "standard output";

    /// <summary>The error for a failed write to <paramref name="target"/> (a file, or <see cref="StandardOutput"/>).</summary>
    public static ClassifyException Of(Exception e, string target) => e switch
    {
        ClassifyException c => c,
        IOException { HResult: EPIPE } => new ClassifyException(ExitCode.OutputFailed, target == StandardOutput ? null : target, target == StandardOutput
            ? "standard output was closed by its reader (broken pipe): the run stopped; write to a file with --output FILE to keep every result"
            : "cannot write: the reader went away (broken pipe)", e),
        _ => new ClassifyException(ExitCode.OutputFailed, target == StandardOutput ? null : target,
            $"{(target == StandardOutput ? "standard output" : "cannot write")}: {Reason(e)}", e),
    };

    /// <summary>A write that failed for the disk's sake: full, over quota, read-only, a file too large, an I/O error.</summary>
    public static bool IsDiskError(IOException e) => e.HResult is ENOSPC or EDQUOT or EROFS or EFBIG or EIO;

    /// <summary>Why a write or a create failed, in words without the path .NET puts in its messages (a hidden temporary
    /// file's, say). .NET's IOException on Unix carries the errno as its HResult.</summary>
    public static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        IOException { HResult: ENOSPC } => "no space left on device",
        IOException { HResult: EDQUOT } => "disk quota exceeded",
        IOException { HResult: EFBIG } => "file too large",
        IOException { HResult: EROFS } => "read-only file system",
        IOException { HResult: EIO } => "input/output error",
        IOException { HResult: > 0 and < 4096 } io => Marshal.GetPInvokeErrorMessage(io.HResult),
        _ => e.Message,
    };

    /// <summary>Standard output as a stream of bytes, written with write(2) on descriptor 1: a failed write is an
    /// exception (System.Console ignores a broken pipe, and FileStream would write at its own offset over what standard
    /// error wrote to the same file in <c>&gt; log 2&gt;&amp;1</c>). Names are written as their bytes whatever the locale.</summary>
    public static Stream OpenStandardOutput() => new Guarded(new DescriptorStream(1), StandardOutput);

    /// <summary>Standard error as bytes, with write(2) (for messages when System.Console cannot be set up).</summary>
    public static Stream OpenStandardError() => new DescriptorStream(2);

    /// <summary><paramref name="inner"/>, with every failed write or flush reported by <see cref="Of"/>.</summary>
    public static Stream Guard(Stream inner, string target) => new Guarded(inner, target);

    private sealed class Guarded(Stream inner, string target) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try { inner.Write(buffer); }
            catch (IOException e) { throw Of(e, target); }
        }

        public override void Flush()
        {
            try { inner.Flush(); }
            catch (IOException e) { throw Of(e, target); }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>write(2) on a descriptor this stream does not own, every byte or an IOException with the errno.</summary>
    private sealed partial class DescriptorStream(int fd) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override unsafe void Write(ReadOnlySpan<byte> buffer)
        {
            const int EINTR = 4;
            fixed (byte* start = buffer)
            {
                var done = 0;
                while (done < buffer.Length)
                {
                    var n = write(fd, start + done, (nuint)(buffer.Length - done));
                    if (n < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == EINTR) continue;
                        throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
                    }
                    done += (int)n;
                }
            }
        }

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial nint write(int fd, byte* buffer, nuint count);
    }
}
