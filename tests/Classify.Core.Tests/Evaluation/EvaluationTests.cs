using Classify.Evaluation;

namespace Classify.Tests.Evaluation;

public sealed class EvaluationTests
{
    [Theory]
    // Hand-computed Wilson score intervals (z = 1.959964): 0 of 10 is [0, 0.2775], 10 of 10 [0.7225, 1], 50 of 100 [0.4038, 0.5962].
    [InlineData(0, 10, 0.0, 0.27753)]
    [InlineData(10, 10, 0.72247, 1.0)]
    [InlineData(50, 100, 0.40383, 0.59617)]
    public void Wilson_intervals_are_sound_at_the_edges(int correct, int total, double low, double high)
    {
        var (l, h) = new Accuracy(correct, total).Ci95;
        Assert.Equal(low, l, 4);
        Assert.Equal(high, h, 4);
    }

    [Fact]
    public void Csv_fields_honour_quotes_and_tsv_fields_do_not()
    {
        Assert.Equal(["a.png", "tabby, tabby cat", "say \"hi\"", ""], Delimited.Split("a.png,\"tabby, tabby cat\",\"say \"\"hi\"\"\",", ','));
        Assert.Equal(["a,b.png", "\"x\""], Delimited.Split("a,b.png\t\"x\"", '\t'));
        Assert.Throws<FormatException>(() => Delimited.Split("a.png,\"open", ','));
        Assert.Equal('\t', Delimited.SeparatorOf("t.txt", "file\tlabel"));
        Assert.Equal(',', Delimited.SeparatorOf("t.txt", "file,label"));
        Assert.Equal('\t', Delimited.SeparatorOf("t.tsv", "a,b\tc"));
    }

    [Fact]
    public void Classes_are_found_by_id_label_alias_and_folder_spelling()
    {
        var names = new ClassNames(["tabby, tabby cat", "Egyptian cat", "crane", "crane"], ["n02123045", "n02124075", "n02012849", "n03126707"]);
        Assert.Equal(0, names.Find("tabby cat", "x"));
        Assert.Equal(0, names.Find("Tabby_Cat", "x"));
        Assert.Equal(1, names.Find("n02124075", "x"));
        Assert.Equal(1, names.Find("egyptian_cat", "x"));
        Assert.Equal(3, names.Find("n03126707", "x"));
        var ambiguous = Assert.Throws<ClassifyException>(() => names.Find("crane", "x"));
        Assert.Equal(ExitCode.EvalDataInvalid, ambiguous.ExitCode);
        var unknown = Assert.Throws<ClassifyException>(() => names.Find("Egyptian kat", "folder"));
        Assert.Contains("did you mean Egyptian cat (n02124075)?", unknown.Message);
        Assert.Equal(2, names.Index("2", "x"));
        Assert.Throws<ClassifyException>(() => names.Index("4", "x"));
        Assert.Throws<ClassifyException>(() => names.Index("-1", "x"));
    }
}
