#!/usr/bin/env python3
"""The measurements and verdicts of scripts/device/gpu-check.sh (python3 standard library only; Pillow optional).

Each verdict subcommand prints ONE line, what it measured, and exits 0 when that is within the threshold the shell
script states, 1 when not (2: usage). A run named PREFIX left PREFIX.out (stdout), PREFIX.err (stderr), PREFIX.rc
(exit status) and PREFIX.time (start and end, epoch seconds) behind (gpu-check.sh's `run`).

  images DIR N SRC...          N distinct images cut from the SRC photos into DIR (Pillow), listed in DIR/list.txt
  ran PREFIX [--count N] [--device cuda|cpu] [--pre on|off] [--file TEXT] [--last 1]
                               exit 0, N results without error, backend on DEVICE, preprocessing on the device or
                               not (--verbose line), TEXT in the model file's name (e.g. fp16); --last: show the
                               last line of stdout
  compare REF OTHER --top1 F --tol X [--tail K]
                               same files in the same order; top-1 equal on at least a fraction F of the images
                               (a near-tie, both classes within X in both runs, counts as equal); max |score diff|
                               over the classes in both top-k lists <= X; the last K images reported apart
  same A B                     byte-identical files
  doctor PREFIX                doctor --json: exit 0, gpu_usable, a CUDA execution provider
  diagnosis PREFIX N           doctor --json's diagnosis.number is N
  ranks PREFIX...              every rank exit 0 on cuda, and all ran at the same time (their time windows overlap)
  fallback PREFIX REF [--warn] exit 0 and stdout equal to REF's stdout (and a "warning:" line on stderr)
  bench PREFIX BATCHES         classify bench --json: exit 0, on cuda, img/s > 0 at each of BATCHES
"""
import json
import re
import sys

VERBOSE_MODEL = re.compile(r"classify: model (\S+) \((.*)\), backend (\S+) on (\S+?)"
                           r"( \(uint8 upload, preprocessing on the device\))?, (\d+) image")
SUMMARY = re.compile(r"classify: (\d+) images: .*? in ([\d.]+) s(?: \(([\d.]+) img/s\))?")


def read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def exit_status(prefix):
    text = read(prefix + ".rc").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def records(path):
    """The results of a jsonl file, in order, as (file, predictions or None for an error); trailers skipped."""
    out = []
    for line in read(path).splitlines():
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError:
            out.append(("<unparsable line>", None))
            continue
        if "file" in d:
            out.append((d["file"], d.get("predictions")))
    return out


def verdict(ok, text):
    print(text)
    return 0 if ok else 1


def first_line(text, limit=120):
    line = next((l for l in text.splitlines() if l.strip()), "")
    return line[:limit]


def cmd_images(args):
    folder, n, sources = args[0], int(args[1]), args[2:]
    paths = []
    try:
        from PIL import Image, ImageOps
        photos = [Image.open(s).convert("RGB") for s in sources]
        for i in range(n):
            img, k = photos[i % len(photos)], i // len(photos)
            w, h = img.size
            s = 0.5 + 0.45 * ((k * 7) % 11) / 11  # below 1, so that the offsets always move the window
            cw, ch = max(32, int(w * s)), max(32, int(h * s))
            x, y = int(((k * 5) % 9) / 8 * (w - cw)), int(((k * 3) % 7) / 6 * (h - ch))
            crop = img.crop((x, y, x + cw, y + ch))
            if k % 2:
                crop = ImageOps.mirror(crop)
            crop.thumbnail((320, 320))
            path = f"{folder}/img-{i:03d}.{'jpg' if i % 2 else 'png'}"
            crop.save(path, quality=92) if i % 2 else crop.save(path)
            paths.append(path)
        distinct = len({read_bytes(p) for p in paths})
        how = f"{distinct} distinct crops of {len(sources)} photos (Pillow)"
        if distinct != n:
            return verdict(False, how)
    except ImportError:
        paths = [sources[i % len(sources)] for i in range(n)]
        how = f"no Pillow: the {len(sources)} photos cycled to {n} entries (not distinct)"
    with open(f"{folder}/list.txt", "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for p in paths))
    return verdict(len(paths) == n, how)


def cmd_ran(args):
    prefix, opts = args[0], dict(zip(args[1::2], args[2::2]))
    rc, err = exit_status(prefix), read(prefix + ".err")
    if err.startswith("not run:"):
        return verdict(False, err.strip())
    got, problems = [f"exit {rc}"], []
    if rc in (124, 137):
        problems.append(err.strip().splitlines()[-1] if err.strip() else "timed out")
    elif rc != 0:
        problems.append(first_line(err) or "no stderr")
    if "--count" in opts:
        recs = records(prefix + ".out")
        good = sum(p is not None for _, p in recs)
        got.append(f"{good} results")
        if len(recs) != good:
            problems.append(f"{len(recs) - good} image errors")
        elif good != int(opts["--count"]):
            problems.append(f"not {opts['--count']} results")
    m = VERBOSE_MODEL.search(err)
    if m:
        got.append(f"{m.group(3)} on {m.group(4)}")
        if m.group(5):
            got.append("preprocessing on the device")
        got.append(m.group(2).rsplit("/", 1)[-1])
    elif "--device" in opts or "--pre" in opts or "--file" in opts:
        problems.append("no --verbose model line")
    if m and "--device" in opts and not m.group(4).startswith(opts["--device"]):
        problems.append(f"device {m.group(4)}")
    if m and opts.get("--pre") == "on" and not m.group(5):
        problems.append("preprocessing NOT on the device")
    if m and opts.get("--pre") == "off" and m.group(5):
        problems.append("preprocessing on the device although off")
    if "preprocessing stays on the CPU" in err:
        problems.append("preprocessing stays on the CPU (see .err)")
    if m and "--file" in opts and opts["--file"] not in m.group(2).rsplit("/", 1)[-1]:
        problems.append(f"model file not *{opts['--file']}*")
    placement = re.search(r"onnxruntime: (.*)", err)
    if placement and "all nodes on" not in placement.group(1):
        got.append(placement.group(1)[:80])
    if "--last" in opts:
        got.append(first_line("\n".join(reversed(read(prefix + ".out").splitlines()))))
    s = SUMMARY.search(err)
    if s and s.group(3):
        got.append(f"{float(s.group(3)):.0f} img/s in {s.group(2)} s")
    return verdict(not problems, ", ".join(got) + ("" if not problems else " -- " + "; ".join(problems)))


def cmd_compare(args):
    ref_path, other_path = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    top1_min, tol, tail = float(opts.get("--top1", "1")), float(opts.get("--tol", "inf")), int(opts.get("--tail", "0"))
    a, b = records(ref_path), records(other_path)
    if not a or [f for f, _ in a] != [f for f, _ in b]:
        return verdict(False, f"{len(a)} vs {len(b)} results, not the same files in the same order")
    same = ties = errors = 0
    maxdiff = taildiff = 0.0
    for i, ((_, p), (_, q)) in enumerate(zip(a, b)):
        if p is None or q is None:
            errors += 1
            continue
        sp, sq = {x["class"]: x["score"] for x in p}, {x["class"]: x["score"] for x in q}
        diff = max((abs(sp[c] - sq[c]) for c in sp.keys() & sq.keys()), default=float("inf"))
        maxdiff = max(maxdiff, diff)
        if i >= len(a) - tail:
            taildiff = max(taildiff, diff)
        ta, tb = p[0]["class"], q[0]["class"]
        if ta == tb:
            same += 1
        elif ta in sq and tb in sp and abs(sp[ta] - sp[tb]) <= tol and abs(sq[ta] - sq[tb]) <= tol:
            same, ties = same + 1, ties + 1
    n = len(a)
    text = f"top-1 equal {same}/{n}" + (f" ({ties} near-ties)" if ties else "") + f", max |score diff| {maxdiff:.2e}"
    if tail:
        text += f", last {tail} (partial batch) {taildiff:.2e}"
    if errors:
        text += f", {errors} image errors"
    elif a == b:
        text += ", identical results"
    return verdict(not errors and same >= top1_min * n and maxdiff <= tol, text)


def cmd_same(args):
    a, b = read(args[0], None), read(args[1], None)
    if a is None or b is None:
        return verdict(False, "a file is missing")
    if not a:
        return verdict(False, "empty output")
    if a == b:
        return verdict(True, f"byte-identical ({len(a.splitlines())} lines)")
    la, lb = a.splitlines(), b.splitlines()
    k = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
    return verdict(False, f"differ from line {k + 1} ({len(la)} vs {len(lb)} lines)")


def load_json(prefix):
    try:
        return json.loads(read(prefix + ".out"))
    except ValueError:
        return None


def cmd_doctor(args):
    rc, d = exit_status(args[0]), load_json(args[0])
    if d is None:
        return verdict(False, f"exit {rc}, no JSON ({first_line(read(args[0] + '.err'))})")
    gpus = [g.get("name") or "?" for g in d.get("gpus", [])]
    text = ", ".join([f"exit {rc}", f"gpu_usable {str(d.get('gpu_usable')).lower()}", str(d.get("execution_provider")),
                      str(d.get("device"))] + gpus)
    return verdict(rc == 0 and d.get("gpu_usable") is True and "CUDA" in str(d.get("execution_provider")), text)


def cmd_diagnosis(args):
    d = load_json(args[0])
    if d is None:
        return verdict(False, f"no JSON ({first_line(read(args[0] + '.err'))})")
    number = d["diagnosis"]["number"]
    return verdict(number == int(args[1]), f"diagnosis {number}: {d['diagnosis']['problem'][:100]}")


def cmd_ranks(prefixes):
    got, ok, windows = [], True, []
    for p in prefixes:
        rc, m = exit_status(p), VERBOSE_MODEL.search(read(p + ".err"))
        device = m.group(4) if m else "?"
        ok &= rc == 0 and device.startswith("cuda")
        got.append(f"exit {rc} on {device}")
        t = read(p + ".time").split()
        windows.append((float(t[0]), float(t[1])) if len(t) == 2 else (0.0, 0.0))
    overlap = min(e for _, e in windows) - max(s for s, _ in windows)
    ok &= overlap > 0
    return verdict(ok, ", ".join(got) + f", ran together for {max(overlap, 0):.1f} s")


def cmd_fallback(args):
    prefix, ref = args[0], args[1]
    rc, out, err = exit_status(prefix), read(prefix + ".out"), read(prefix + ".err")
    warned = next((l for l in err.splitlines() if "warning:" in l), "")
    same = bool(out) and out == read(ref + ".out")
    text = f"exit {rc}, stdout {'=' if same else '!='} --device cpu's" + (f", '{warned[:110]}'" if warned else ", no warning")
    return verdict(rc == 0 and same and (bool(warned) or "--warn" not in args), text)


def cmd_bench(args):
    rc, d = exit_status(args[0]), load_json(args[0])
    want = [int(b) for b in args[1].split(",")]
    if d is None:
        return verdict(False, f"exit {rc}, no JSON ({first_line(read(args[0] + '.err'))})")
    got = {r["batch"]: r["images_per_second"] for r in d.get("model_only", [])}
    text = f"on {d.get('device')}: " + ", ".join(f"b{b} {got.get(b, 0):.0f}" for b in want) + " img/s"
    return verdict(rc == 0 and str(d.get("device")).startswith("cuda") and all(got.get(b, 0) > 0 for b in want), text)


COMMANDS = {"images": cmd_images, "ran": cmd_ran, "compare": cmd_compare, "same": cmd_same, "doctor": cmd_doctor,
            "diagnosis": cmd_diagnosis, "ranks": cmd_ranks, "fallback": cmd_fallback, "bench": cmd_bench}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    except Exception as e:  # a verdict helper that breaks is a FAIL with its reason, never a silent PASS
        print(f"helper error: {type(e).__name__}: {e}")
        sys.exit(1)
