using System.Runtime.ExceptionServices;

namespace Classify.Pipeline;

/// <summary>
/// How the stages of one run end together. The first fault of any stage wins: it is what the run throws, not the
/// cancellations it causes in the others, which it stops through <see cref="Token"/> (as a user's cancel does). Once
/// the stages are over, the decoders are waited for, but only briefly once the run was stopped: a decode that cannot
/// be interrupted (libjpeg-turbo) must not hold up a Ctrl-C or Slurm's SIGTERM past its grace; its thread, a
/// background one, is left to finish on its own. Every decoder left is bounded by the file size and pixel limits, so
/// this is a guard, not a path tests reach.
/// </summary>
internal sealed class FirstFault : IDisposable
{
    private readonly CancellationToken _cancel;
    private readonly CancellationTokenSource _stop;
    private Exception? _fault, _cancelled;

    public FirstFault(CancellationToken cancel)
    {
        _cancel = cancel;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        Token = _stop.Token; // kept: a decoder left behind may still look at it after the run
    }

    /// <summary>Cancelled once any stage failed, the run was cancelled, or <see cref="Stop"/> was called.</summary>
    public CancellationToken Token { get; }

    /// <summary>Whether the user cancelled the run (Ctrl-C, SIGTERM).</summary>
    public bool Cancelled => _cancel.IsCancellationRequested;

    /// <summary>Records a stage's exception (the first that is not a cancellation wins) and stops the others.</summary>
    public void Fail(Exception e)
    {
        if (e is OperationCanceledException) Interlocked.CompareExchange(ref _cancelled, e, null);
        else Interlocked.CompareExchange(ref _fault, e, null);
        Stop();
    }

    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the run is over: a watchdog callback that comes late has nothing to stop
        }
    }

    /// <summary>Waits for <paramref name="stages"/> (which record their faults here, never throw), then for
    /// <paramref name="decoders"/> (at most <paramref name="grace"/> once the run was stopped), then throws the first
    /// fault, or the user's cancellation.</summary>
    public async Task EndAsync(Task[] stages, Task decoders, TimeSpan grace)
    {
        await Task.WhenAll(stages).ConfigureAwait(false);
        if (Token.IsCancellationRequested)
            await Task.WhenAny(decoders, Task.Delay(grace)).ConfigureAwait(false);
        else
            await decoders.ConfigureAwait(false);
        if (_fault is not null)
            ExceptionDispatchInfo.Throw(_fault);
        _cancel.ThrowIfCancellationRequested();
        // A stage that stopped without a fault or a cancel to explain it must not end the run short without a word.
        if (_cancelled is not null)
            ExceptionDispatchInfo.Throw(_cancelled);
    }

    public void Dispose() => _stop.Dispose();
}
