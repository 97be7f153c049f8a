#!/usr/bin/python3
"""The fuzz campaign on an installed classify (scripts/ci/fuzz-test.sh runs it on the Native AOT binary).

    run_fuzz.py CLASSIFY CORPUS_DIR WORK_DIR

Every file of the corpus (tests/fuzz/make_hostile.py) is classified alone, two processes at a time, then all of
them in one batch with --output in every format. Asserted: no exit 1 (a bug), no signal, no run over its time
limit, only documented exit codes, one result per input, outputs that parse, one-line errors with no stack trace,
peak RSS under the budget, the same bytes from a rerun with other batch and thread settings, and a run killed with
SIGKILL that resumes to the same bytes and leaves no temporary file. Prints PASS:/FAIL: lines and the totals.
"""
import concurrent.futures, csv, io, json, os, signal, subprocess, sys, time

APP, CORPUS, WORK = sys.argv[1:4]
DECODE_TIMEOUT = 5          # seconds, --decode_timeout for every run
ALONE_LIMIT = 15            # seconds a one-file run may take in all (start, model, decode, exit)
RSS_BUDGET_KB = 2 * 1024 * 1024   # README, Memory: 2 GiB for the default model
EXIT_CODES = {0, 3, 4, 5, 6, 9}   # success and the per-image errors (README, Exit codes)
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS: {what}")
    else:
        failed += 1
        print(f"FAIL: {what}: {detail}")
    sys.stdout.flush()


def run_measured(args, timeout):
    """Like run, with the child's own peak RSS from wait4 (communicate would reap it first)."""
    start = time.monotonic()
    out_path, err_path = os.path.join(WORK, f"o.{os.getpid()}.{time.monotonic_ns()}"), os.path.join(WORK, f"e.{time.monotonic_ns()}")
    with open(out_path, "wb") as o, open(err_path, "wb") as e:
        p = subprocess.Popen([APP] + args, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                status, usage = None, None
                break
            time.sleep(0.01)
    with open(out_path, "rb") as o, open(err_path, "rb") as e:
        out, err = o.read(), e.read()
    os.remove(out_path); os.remove(err_path)
    seconds = time.monotonic() - start
    if status is None:
        return "timeout", seconds, 0, out, err
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, seconds, usage.ru_maxrss, out, err


def stderr_ok(err):
    lines = err.decode("utf-8", "replace").splitlines()
    return all(l.startswith("classify: ") for l in lines) and not any(" at " in l and "(" in l and ".cs" in l for l in lines)


def alone(path):
    code, seconds, rss, out, err = run_measured(["--image_file", path, "--format", "jsonl", "--decode_timeout", str(DECODE_TIMEOUT)], ALONE_LIMIT)
    problems = []
    if code == "timeout" or seconds > ALONE_LIMIT:
        problems.append(f"ran over {ALONE_LIMIT} s")
    elif code < 0:
        problems.append(f"killed by signal {-code}")
    elif code not in EXIT_CODES:
        problems.append(f"exit {code}")
    lines = out.decode("utf-8", "replace").splitlines()
    if code != "timeout":
        try:
            record = json.loads(lines[0]) if len(lines) == 1 else None
            if record is None or record.get("file") != path or ("error" in record) != (code != 0):
                problems.append(f"{len(lines)} output lines, expected one result for this file")
        except ValueError:
            problems.append("output is not JSON")
        errs = err.decode("utf-8", "replace").splitlines()
        if not stderr_ok(err) or (code != 0 and len(errs) != 1):
            problems.append(f"stderr is not one 'classify:' line: {err[:200]!r}")
    if rss > RSS_BUDGET_KB:
        problems.append(f"peak RSS {rss} KB")
    return path, code, seconds, rss, problems


def main():
    names = sorted(os.listdir(CORPUS))
    paths = [os.path.join(CORPUS, n) for n in names]
    print(f"fuzz: {len(paths)} files in {CORPUS}")

    # 1. Each file alone, two at a time.
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(alone, paths))
    bad = [(p, c, pr) for p, c, _, _, pr in results if pr]
    codes = {}
    for _, c, _, _, _ in results:
        codes[c] = codes.get(c, 0) + 1
    slowest = max(results, key=lambda r: r[2])
    biggest = max(results, key=lambda r: r[3])
    print(f"fuzz: alone: {len(results)} runs in {time.monotonic() - t0:.0f} s; exit codes {dict(sorted(codes.items(), key=str))}; "
          f"slowest {slowest[2]:.2f} s ({os.path.basename(slowest[0])!r}); peak RSS {biggest[3] // 1024} MiB ({os.path.basename(biggest[0])!r})")
    check(len(paths) >= 2000, f"the corpus has at least 2,000 hostile files ({len(paths)})", "too few")
    check(not bad, f"each of the {len(paths)} files alone: a documented exit code, no signal, under {ALONE_LIMIT} s, one result, one-line error, RSS under 2 GiB",
          "; ".join(f"{os.path.basename(p)!r}: {', '.join(pr)}" for p, _, pr in bad[:10]) + (f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""))
    check(codes.get(0, 0) > 50 and sum(codes.get(c, 0) for c in (4, 5, 6)) > 50, "the corpus exercises both results and errors", str(codes))

    # 2. All of them in one batch, --output in every format.
    files_args = [a for p in paths for a in ("--image_file", p)]
    outputs = {}
    for fmt, ext in (("jsonl", "jsonl"), ("json", "json"), ("csv", "csv"), ("text", "txt")):
        out = os.path.join(WORK, f"batch.{ext}")
        code, seconds, rss, _, err = run_measured(files_args + ["--format", fmt, "--output", out, "--decode_timeout", str(DECODE_TIMEOUT)], 900)
        print(f"fuzz: batch --format {fmt}: exit {code} in {seconds:.1f} s, peak RSS {rss // 1024} MiB")
        ok = code == 7 and os.path.exists(out)
        check(ok, f"batch --format {fmt}: exit 7 (some images failed) and the output file written", f"exit {code}: {err[-300:]!r}")
        check(rss <= RSS_BUDGET_KB, f"batch --format {fmt}: peak RSS {rss // 1024} MiB is under 2 GiB", f"{rss} KB")
        check(stderr_ok(err), f"batch --format {fmt}: standard error has only one-line 'classify:' messages", repr(err[-300:]))
        if not ok:
            continue
        with open(out, "rb") as f:
            outputs[fmt] = data = f.read()
        text = data.decode("utf-8")
        try:
            if fmt == "jsonl":
                got = [json.loads(l)["file"] for l in text.splitlines()]
            elif fmt == "json":
                got = [r["file"] for r in json.loads(text)["results"]]
            elif fmt == "csv":
                rows = list(csv.DictReader(io.StringIO(text, newline="")))
                got = [r["file"] for i, r in enumerate(rows) if r["rank"] in ("", "1")]
            else:  # names are printed with control characters escaped, so each header is one line
                got = [l[4:-4] for l in text.split("\n") if l.startswith("==> ") and l.endswith(" <==")]
            expected = paths if fmt != "text" else [p.replace("\n", "\\n").replace("\t", "\\t") for p in paths]
            check(got == expected, f"batch --format {fmt}: the output parses and has one result per input, in input order",
                  f"{len(got)} results for {len(paths)} inputs")
        except (ValueError, KeyError) as e:
            check(False, f"batch --format {fmt}: the output parses", str(e))

    # 3. The same bytes from another batch size and thread count.
    out = os.path.join(WORK, "again.jsonl")
    code, _, _, _, err = run_measured(files_args + ["--format", "jsonl", "--output", out, "--batch_size", "7", "--threads", "1", "--decode_timeout", str(DECODE_TIMEOUT)], 900)
    same = code == 7 and "jsonl" in outputs and open(out, "rb").read() == outputs["jsonl"]
    check(same, "a rerun with --batch_size 7 --threads 1 gives the same bytes", f"exit {code}")

    # 4. Killed with SIGKILL mid-run, then rerun: the same bytes, no temporary file left.
    out = os.path.join(WORK, "killed", "results.jsonl")
    os.makedirs(os.path.dirname(out))
    args = [APP] + files_args + ["--format", "jsonl", "--output", out, "--batch_size", "16", "--decode_timeout", str(DECODE_TIMEOUT)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out + ".partial"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not os.path.exists(partial) or os.path.getsize(partial) < 100_000):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = [n for n in os.listdir(os.path.dirname(out)) if n.endswith(".tmp")]
    code, _, _, _, err = run_measured(args[1:], 900)
    resumed = open(out, "rb").read() if os.path.exists(out) else b""
    after = [n for n in os.listdir(os.path.dirname(out)) if n.endswith(".tmp") or n.endswith(".partial")]
    check(code == 7 and b"resum" in err.lower() and resumed == outputs.get("jsonl"),
          "killed with SIGKILL and rerun: it resumes and gives the same bytes as an uninterrupted run", f"exit {code}: {err[-300:]!r}")
    check(bool(left) and not after, f"the killed run's temporary file ({len(left)}) is removed by the rerun", f"before {left}, after {after}")

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
