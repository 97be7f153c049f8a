#!/usr/bin/env bash
# The hostile-input campaign on the shipped binary (the Native AOT build scripts/install.sh makes):
#   tests/fuzz/make_hostile.py writes 2,000+ hostile files from a fixed seed (FUZZ_SEED, default 1): mutations of
#   the test photos in every format, decompression bombs, huge and numerous metadata chunks, animations,
#   non-images, a FIFO, a socket, device links, a name with a newline;
#   tests/fuzz/run_fuzz.py classifies each alone and all of them in one batch in every output format, and checks
#   exit codes, time limits, one result per input, parseable outputs, peak RSS, determinism and resume after SIGKILL.
# CLASSIFY_FUZZ_APP=path/to/classify skips the build and tests that binary instead.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"

# Debian's Python with PIL writes the seed images (the generator's output then depends only on the seed).
py=/usr/bin/python3
if ! "$py" -c 'import PIL' 2>/dev/null; then
  apt_install "$work/apt.log" python3 python3-pil
  "$py" -c 'import PIL' 2>/dev/null || { fail "python3-pil for the fuzz corpus" "not installed: $(tail -3 "$work/apt.log" 2>/dev/null)"; finish; }
fi

app=${CLASSIFY_FUZZ_APP:-}
if [ -z "$app" ]; then
  if ! "$repo/scripts/install.sh" "$work/prefix" >"$work/install.log" 2>&1; then
    fail "scripts/install.sh" "$(tail -5 "$work/install.log")"; finish
  fi
  app=$work/prefix/classify/classify
fi

if ! "$py" "$repo/tests/fuzz/make_hostile.py" "$work/corpus" --seed "${FUZZ_SEED:-1}" --count 2000 >"$work/kinds.tsv" 2>"$work/make.err"; then
  fail "tests/fuzz/make_hostile.py" "$(tail -5 "$work/make.err")"; finish
fi
mkdir -p "$work/run"
"$py" "$repo/tests/fuzz/run_fuzz.py" "$app" "$work/corpus" "$work/run" | tee "$work/fuzz.log"
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/fuzz.log" | tail -1)
if [ -z "$last" ]; then
  fail "tests/fuzz/run_fuzz.py" "printed no totals"
else
  passed=$((passed + ${last%% passed*}))
  f=${last#*passed, }; failed=$((failed + ${f%% failed*}))
fi
finish
