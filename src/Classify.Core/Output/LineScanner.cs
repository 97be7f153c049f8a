namespace Classify.Output;

/// <summary>
/// Reads a stream line by line as raw bytes, knowing whether each line ended with '\n' and how many bytes
/// were consumed. Merge copies lines without re-encoding them and resume truncates a journal after its last
/// whole line; a TextReader offers neither.
/// </summary>
internal sealed class LineScanner(Stream stream)
{
    /// <summary>No line classify writes comes near this (a result with 1,000 predictions is about 80 KB); a longer one
    /// is not a result file, and reading on would only fill memory.</summary>
    public const int MaxLineBytes = 16 << 20;

    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>Bytes of the stream consumed so far, including the newlines.</summary>
    public long Offset { get; private set; }

    /// <summary>The next line without its '\n' (valid until the next call); false at the end of the stream.</summary>
    public bool TryRead(out ReadOnlyMemory<byte> line, out bool terminated)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                line = _buffer.AsMemory(_start, newline - _start);
                Offset += newline - _start + 1;
                _start = newline + 1;
                terminated = true;
                return true;
            }
            if (_eof)
            {
                terminated = false;
                if (_end == _start)
                {
                    line = default;
                    return false;
                }
                line = _buffer.AsMemory(_start, _end - _start);
                Offset += _end - _start;
                _start = _end;
                return true;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= MaxLineBytes)
                    throw new InvalidDataException($"a line is over {MaxLineBytes >> 20} MiB: not a file of classify results");
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            var read = stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
                _eof = true;
            else
                _end += read;
        }
    }
}
