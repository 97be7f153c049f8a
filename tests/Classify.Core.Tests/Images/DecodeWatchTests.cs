using System.Diagnostics;
using Classify.Images;

namespace Classify.Tests.Images;

/// <summary>The clock a watchdog reads to abandon a decode that passed --decode_timeout: when it may, and what a worker
/// can still do afterwards (nothing that touches a batch).</summary>
public sealed class DecodeWatchTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static long After(TimeSpan t) => Stopwatch.GetTimestamp() + (long)(t.TotalSeconds * Stopwatch.Frequency);

    [Fact]
    public void A_decode_is_abandoned_only_past_its_deadline_plus_the_slack()
    {
        var watch = new DecodeWatch(Timeout);
        var abandoned = 0;
        watch.Begin(() => abandoned++);
        Assert.Null(watch.TryAbandon(After(Timeout - TimeSpan.FromSeconds(1)), DecodeWatch.Slack));
        Assert.Null(watch.TryAbandon(After(Timeout), DecodeWatch.Slack));
        var then = watch.TryAbandon(After(Timeout + DecodeWatch.Slack + TimeSpan.FromSeconds(1)), DecodeWatch.Slack);
        Assert.NotNull(then);
        then();
        Assert.Equal(1, abandoned);
        Assert.True(watch.IsAbandoned);
        // Only once, and the worker can neither use the image, nor end it as its own, nor go on.
        Assert.Null(watch.TryAbandon(After(TimeSpan.FromHours(1)), DecodeWatch.Slack));
        Assert.False(watch.TryUse());
        Assert.False(watch.TryEnd());
        Assert.Throws<DecodeAbandonedException>(watch.Resume);
        Assert.Throws<DecodeAbandonedException>(() => watch.Begin(() => { }));
    }

    [Fact]
    public void Waiting_for_memory_stops_the_clock_and_having_it_restarts_the_full_timeout()
    {
        var watch = new DecodeWatch(Timeout);
        watch.Begin(() => { });
        watch.Pause();
        Assert.Null(watch.TryAbandon(After(TimeSpan.FromHours(1)), DecodeWatch.Slack));
        watch.Resume();
        Assert.Null(watch.TryAbandon(After(Timeout), DecodeWatch.Slack));
        Assert.NotNull(watch.TryAbandon(After(Timeout + TimeSpan.FromSeconds(1)), DecodeWatch.Slack));
    }

    [Fact]
    public void Once_the_pixels_are_in_use_or_the_image_is_done_it_is_never_abandoned()
    {
        var watch = new DecodeWatch(Timeout);
        watch.Begin(() => { });
        Assert.True(watch.TryUse());
        Assert.Null(watch.TryAbandon(After(TimeSpan.FromHours(1)), DecodeWatch.Slack));
        Assert.True(watch.TryEnd());
        Assert.Null(watch.TryAbandon(After(TimeSpan.FromHours(1)), DecodeWatch.Slack));
        // The next image starts a clock of its own.
        watch.Begin(() => { });
        Assert.Null(watch.TryAbandon(After(Timeout), DecodeWatch.Slack));
    }

    [Fact]
    public void The_format_of_a_prefetched_decode_is_taken_from_its_own_watch()
    {
        var prefetch = new DecodeWatch(Timeout) { Format = "PNG" };
        var watch = new DecodeWatch(Timeout);
        watch.Begin(() => { });
        watch.Follow(prefetch);
        Assert.Equal("PNG", watch.Format);
        watch.TryEnd();
        watch.Begin(() => { });
        Assert.Null(watch.Format);
    }
}
