#!/usr/bin/env bash
# The README's install (scripts/install.sh) as a user runs it, and the launcher it installs as `classify`:
#   - with gcc on the machine the app is a Native AOT executable, and every CLI test (tests/Classify.Cli.Tests,
#     real processes on the real photos and models) passes against it; their counts join this script's totals;
#   - without a compiler (CLASSIFY_AOT=false) the ReadyToRun build classifies the same photo;
#   - the installed classify classifies a photo, and the bundled cat through a symlink from another folder;
#   - the running app has GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (the launcher's reason to exist);
#   - the launcher keeps the user's other tunables and an explicit hugetlb choice, and passes arguments as given.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"

if ! "$repo/scripts/install.sh" "$work/prefix" >"$work/install.log" 2>&1; then
  fail "scripts/install.sh" "$(tail -5 "$work/install.log")"; finish
fi
app=$work/prefix/classify
chelsea=$repo/tests/images/chelsea.png

if [ -x "$app/classify-app" ] && [ ! -e "$app/libcoreclr.so" ] && [ ! -e "$app/classify.dll" ]; then
  pass "install.sh with gcc builds a Native AOT executable (no runtime files beside it)"
else
  fail "install.sh with gcc builds Native AOT" "$(find "$app" -maxdepth 1 -name "lib*" | head -5 | tr "\n" " ")"
fi

# The CLI tests, against the installed AOT binary instead of the JIT build beside the test assembly.
CLASSIFY_TEST_EXECUTABLE=$app/classify dotnet test "$repo/tests/Classify.Cli.Tests" -c Release --nologo >"$work/cli-tests.log" 2>&1
if add_dotnet_totals "$work/cli-tests.log"; then
  echo "CLI tests against the AOT binary: $(grep -E '^(Passed|Failed)! ' "$work/cli-tests.log" | tail -1)"
  grep -E '^\s+Failed ' "$work/cli-tests.log" | sed 's/^ */FAIL (AOT): /'
else
  fail "CLI tests against the AOT binary" "no summary: $(grep -m3 -E 'error' "$work/cli-tests.log")"
fi

if CLASSIFY_AOT=false "$repo/scripts/install.sh" "$work/r2r" >"$work/install-r2r.log" 2>&1; then
  out=$("$work/r2r/classify/classify" --image_file "$chelsea" 2>"$work/err"); rc=$?
  if [ "$rc" -eq 0 ] && [[ $out == "Egyptian cat (score = 0.75903)"* ]] && [ -e "$work/r2r/classify/libcoreclr.so" ]; then
    pass "CLASSIFY_AOT=false: the ReadyToRun build classifies chelsea.png as an Egyptian cat"
  else
    fail "the ReadyToRun build classifies chelsea.png" "exit $rc: $(head -c 300 "$work/err") ${out:0:100}"
  fi
else
  fail "CLASSIFY_AOT=false scripts/install.sh" "$(tail -5 "$work/install-r2r.log")"
fi
rm -rf "$work/r2r"

out=$("$app/classify" --image_file "$chelsea" 2>"$work/err"); rc=$?
if [ "$rc" -eq 0 ] && [[ $out == "Egyptian cat (score = 0.75903)"* ]] && [ ! -s "$work/err" ]; then
  pass "the installed classify: chelsea.png is an Egyptian cat"
else
  fail "the installed classify classifies chelsea.png" "exit $rc: $(head -c 300 "$work/err") ${out:0:100}"
fi

mkdir -p "$work/bin" "$work/elsewhere"
ln -s "$app/classify" "$work/bin/classify"
out=$(cd "$work/elsewhere" && PATH=$work/bin:$PATH classify 2>"$work/err"); rc=$?
if [ "$rc" -eq 0 ] && [[ $out == "Egyptian cat (score = "* ]]; then
  pass "through a symlink on PATH, from another folder: the bundled cat"
else
  fail "classify through a symlink on PATH" "exit $rc: $(head -c 300 "$work/err") ${out:0:100}"
fi

# The real app, waiting for its image list on stdin: its environment is in /proc.
mkfifo "$work/list"
"$app/classify" --image_list - <"$work/list" >"$work/out" 2>&1 &
pid=$!
exec 3>"$work/list"
for _ in $(seq 100); do
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$app/classify-app" ] && break
  sleep 0.1
done
tunables=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^GLIBC_TUNABLES=//p')
echo "$chelsea" >&3
exec 3>&-
wait "$pid"; rc=$?
if [ "$tunables" = "glibc.malloc.hugetlb=1" ] && [ "$rc" -eq 0 ] && grep -q "Egyptian cat" "$work/out"; then
  pass "the running app (classify-app) has GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
else
  fail "the running app has GLIBC_TUNABLES=glibc.malloc.hugetlb=1" "GLIBC_TUNABLES='$tunables', exit $rc: $(head -c 300 "$work/out")"
fi

# The launcher alone, in front of a stand-in app that reports what it was given.
mkdir -p "$work/fake"
cp "$app/classify" "$work/fake/classify"
cat >"$work/fake/classify-app" <<'STUB'
#!/bin/sh
printf 'tunables=%s\n' "${GLIBC_TUNABLES-unset}"
for a in "$@"; do printf 'arg=%s\n' "$a"; done
STUB
chmod +x "$work/fake/classify-app"
out=$(GLIBC_TUNABLES=glibc.malloc.arena_max=2 "$work/fake/classify" --image_file "a b.png" "")
expected=$(printf 'tunables=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1\narg=--image_file\narg=a b.png\narg=')
if [ "$out" = "$expected" ]; then
  pass "the launcher adds hugetlb to the user's GLIBC_TUNABLES and passes arguments unchanged"
else
  fail "the launcher adds hugetlb and passes arguments" "$(echo "$out" | tr '\n' '|')"
fi
out=$(GLIBC_TUNABLES=glibc.malloc.hugetlb=0 "$work/fake/classify")
if [ "$out" = "tunables=glibc.malloc.hugetlb=0" ]; then
  pass "an explicit glibc.malloc.hugetlb is left as the user set it"
else
  fail "an explicit glibc.malloc.hugetlb is left alone" "$out"
fi

finish
