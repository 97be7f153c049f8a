#!/usr/bin/env bash
# The native side of the TorchSharp backend, as a user builds it (docs/torch.md):
#   - a publish with -p:ClassifyLibTorch=none carries no libtorch, fails in one line without one, and runs with
#     CLASSIFY_LIBTORCH_DIR pointing at a libtorch folder;
#   - on a host whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12) the output copy of libLibTorchSharp.so is
#     patched and loads, the NuGet cache is left as published, a second patch run changes nothing, the unpatched
#     library fails in one line naming GLIBCXX, and missing tools stop the build with a clear message.
# Works on a copy of the repository's files, so the developer's bin/ and obj/ stay as they are.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"

for tool in dotnet patchelf g++ readelf; do
  command -v "$tool" >/dev/null || { fail "tools" "$tool is missing (apt-get install patchelf g++ binutils)"; finish; }
done

# A clean copy of the tracked and untracked-not-ignored files.
git -C "$repo" ls-files -co --exclude-standard -z | (cd "$repo" && xargs -0 tar -cf - --no-recursion) | tar -C "$work" -xf - \
  || { fail "copy" "cannot copy the repository"; finish; }
src=$work/src
app=$work/app
if ! dotnet publish "$src/Classify.Cli" -c Release -p:ClassifyLibTorch=none -o "$app" -nologo -v q >"$work/publish.log" 2>&1; then
  fail "publish -p:ClassifyLibTorch=none" "$(grep -m1 -E 'error' "$work/publish.log")"; finish
fi
nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
libtorch=$nuget/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native
original=$nuget/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so
[ -d "$libtorch" ] || dotnet restore "$src/Classify.Backends.Torch" -nologo -v q >/dev/null 2>&1
published=$(find "$app" -name libLibTorchSharp.so | head -1)

# 1. libtorch is a build choice.
if [ -z "$(find "$app" -name 'libtorch*.so')" ] && [ -n "$published" ]; then
  pass "a -p:ClassifyLibTorch=none publish has libLibTorchSharp.so and no libtorch ($(du -sh "$app" | cut -f1))"
else
  fail "a -p:ClassifyLibTorch=none publish has no libtorch" "$(find "$app" -name 'libtorch*.so' | head -3 | tr '\n' ' ')"
fi

out=$(env -u CLASSIFY_LIBTORCH_DIR "$app/classify" --backend torch --image_file "$work/tests/images/chelsea.png" 2>"$work/err"); rc=$?
# The advice is what this user can do: the installer's variable on a host, the image's build argument in a container.
if [ -f /.dockerenv ] || [ -d /.singularity.d ]; then advice='--build-arg LIBTORCH=cpu'; else advice='CLASSIFY_LIBTORCH=cpu scripts/install.sh'; fi
if [ "$rc" -eq 15 ] && [ -z "$out" ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q 'libtorch.so' "$work/err" \
   && grep -qF -- "$advice" "$work/err" && ! grep -q 'ClassifyLibTorch' "$work/err"; then
  pass "without libtorch, --backend torch exits 15 with one line naming libtorch.so and advising $advice"
else
  fail "without libtorch, --backend torch exits 15 in one line" "exit $rc: $(head -c 300 "$work/err")"
fi

out=$(CLASSIFY_LIBTORCH_DIR=$libtorch "$app/classify" --backend torch --image_file "$work/tests/images/chelsea.png" 2>"$work/err"); rc=$?
if [ "$rc" -eq 0 ] && [[ $out == "Egyptian cat (score = 0.75903)"* ]]; then
  pass "CLASSIFY_LIBTORCH_DIR=<libtorch lib folder> runs --backend torch (Egyptian cat)"
else
  fail "CLASSIFY_LIBTORCH_DIR runs --backend torch" "exit $rc: $(head -c 300 "$work/err") ${out:0:100}"
fi

# A foreign libtorch: Debian's libtorch 1.13 (the real package), found through LD_LIBRARY_PATH or CLASSIFY_LIBTORCH_DIR
# as libtorch-dev's links would give it. Before, the loader's "undefined symbol: _ZNK3c105Error4whatEv" was all.
debian=/usr/lib/x86_64-linux-gnu
[ -e "$debian/libtorch.so.1.13" ] || apt_install "$work/apt.log" libtorch1.13
if [ -e "$debian/libtorch.so.1.13" ]; then
  mkdir -p "$work/foreign"
  for l in libtorch libc10 libtorch_cpu; do ln -s "$debian/$l.so.1.13" "$work/foreign/$l.so"; done
  env -u CLASSIFY_LIBTORCH_DIR LD_LIBRARY_PATH="$work/foreign" "$app/classify" --backend torch "$work/tests/images/chelsea.png" >/dev/null 2>"$work/err"; rc=$?
  if [ "$rc" -eq 15 ] && [ "$(wc -l <"$work/err")" -eq 1 ] \
      && grep -q "^classify: $debian/libtorch.so.1.13.0: is libtorch 1.13.0, not the 2.10 that TorchSharp needs" "$work/err"; then
    pass "Debian's libtorch 1.13 on LD_LIBRARY_PATH: exit 15, one line naming its file and version"
  else
    fail "a foreign libtorch on LD_LIBRARY_PATH is named with its version" "exit $rc: $(head -c 400 "$work/err")"
  fi
  CLASSIFY_LIBTORCH_DIR=$work/foreign "$app/classify" --backend torch "$work/tests/images/chelsea.png" >/dev/null 2>"$work/err"; rc=$?
  if [ "$rc" -eq 15 ] && [ "$(wc -l <"$work/err")" -eq 1 ] \
      && grep -q "^classify: $work/foreign/libtorch.so: is libtorch 1.13.0 ($debian/libtorch.so.1.13.0), not the 2.10" "$work/err"; then
    pass "CLASSIFY_LIBTORCH_DIR at Debian's libtorch 1.13: exit 15, one line naming the link, the file and the version"
  else
    fail "CLASSIFY_LIBTORCH_DIR at a foreign libtorch is named with its version" "exit $rc: $(head -c 400 "$work/err")"
  fi
else
  fail "Debian's libtorch1.13 for the foreign-libtorch checks" "not installed: $(tail -n 3 "$work/apt.log" 2>/dev/null | tr '\n' ' ')"
fi

mkdir -p "$work/empty"
CLASSIFY_LIBTORCH_DIR=$work/empty "$app/classify" --backend torch --image_file "$work/tests/images/chelsea.png" >/dev/null 2>"$work/err"; rc=$?
if [ "$rc" -eq 15 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^classify: $work/empty: CLASSIFY_LIBTORCH_DIR names a folder without libtorch.so" "$work/err"; then
  pass "CLASSIFY_LIBTORCH_DIR without libtorch.so: exit 15, one line naming the folder"
else
  fail "CLASSIFY_LIBTORCH_DIR without libtorch.so" "exit $rc: $(head -c 300 "$work/err")"
fi

mkdir -p "$work/junk" && head -c 4096 /dev/zero | tr '\0' x >"$work/junk/libtorch.so"
CLASSIFY_LIBTORCH_DIR=$work/junk "$app/classify" --backend torch --image_file "$work/tests/images/chelsea.png" >/dev/null 2>"$work/err"; rc=$?
if [ "$rc" -eq 15 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "invalid ELF header" "$work/err"; then
  pass "a libtorch.so that is no library: exit 15, one line with the loader's reason"
else
  fail "a libtorch.so that is no library" "exit $rc: $(head -c 300 "$work/err")"
fi

out=$(LD_LIBRARY_PATH=$libtorch "$app/classify" --backend torch --image_file "$work/tests/images/coffee.png" 2>"$work/err"); rc=$?
if [ "$rc" -eq 0 ] && [[ $out == "espresso (score = 0.97035)"* ]]; then
  pass "libtorch on LD_LIBRARY_PATH runs --backend torch (espresso)"
else
  fail "libtorch on LD_LIBRARY_PATH runs --backend torch" "exit $rc: $(head -c 300 "$work/err") ${out:0:100}"
fi

# 2. The GLIBCXX_3.4.32 patch, only where the host needs it.
cache=$(/sbin/ldconfig -p 2>/dev/null || ldconfig -p)
system_lib=$(awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found=1}' <<<"$cache")
if grep -q 'GLIBCXX_3\.4\.32' "$system_lib"; then
  if cmp -s "$original" "$published"; then
    pass "this host's libstdc++ has GLIBCXX_3.4.32: libLibTorchSharp.so is left as published"
  else
    fail "a host with GLIBCXX_3.4.32 gets the library unchanged" "the output copy differs from the NuGet copy"
  fi
  finish
fi

# (readelf's output is kept first: grep -q in a pipe would end readelf early, and pipefail counts that.)
versions=$(readelf -V "$published"); dynamic=$(readelf -d "$published")
if grep -q 'GLIBCXX_3.4.32 *Flags: WEAK' <<<"$versions" && grep -q 'NEEDED.*libclassify-glibcxx-shim.so' <<<"$dynamic" \
   && [ -f "$(dirname "$published")/libclassify-glibcxx-shim.so" ]; then
  pass "no GLIBCXX_3.4.32 here ($system_lib): the output copy is patched (weak version, shim beside it)"
else
  fail "the output copy is patched" "$(grep 3.4.32 <<<"$versions")"
fi
versions=$(readelf -V "$original"); dynamic=$(readelf -d "$original")
if grep -q 'GLIBCXX_3.4.32 *Flags: none' <<<"$versions" && ! grep -q shim <<<"$dynamic"; then
  pass "the NuGet cache's libLibTorchSharp.so is untouched"
else
  fail "the NuGet cache is untouched" "$original was modified"
fi

before=$(sha256sum "$published" | cut -d' ' -f1)
bash "$src/Classify.Backends.Torch/native/glibcxx-compat.sh" "$app" "$work/glibcxx" auto >"$work/again.log" 2>&1
if [ "$(sha256sum "$published" | cut -d' ' -f1)" = "$before" ] && [ ! -s "$work/again.log" ]; then
  pass "patching again changes nothing"
else
  fail "patching again changes nothing" "$(cat "$work/again.log")"
fi

unpatched=$work/unpatched
cp -a "$app" "$unpatched"
cp "$original" "$unpatched/${published#"$app"/}"
CLASSIFY_LIBTORCH_DIR=$libtorch "$unpatched/classify" --backend torch --image_file "$work/tests/images/chelsea.png" >/dev/null 2>"$work/err"; rc=$?
if [ "$rc" -eq 15 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "GLIBCXX_3.4.32' not found" "$work/err"; then
  pass "unpatched on this host: exit 15, one line naming GLIBCXX_3.4.32"
else
  fail "unpatched: exit 15 naming GLIBCXX" "exit $rc: $(head -c 300 "$work/err")"
fi

# Without patchelf and g++ the build stops and says what to install.
bin=$work/bin-without-tools
mkdir -p "$bin"
for t in bash find grep awk dirname mktemp cp mv chmod mkdir ldconfig; do
  p=$(command -v "$t" || true); [ -n "$p" ] && ln -sf "$p" "$bin/$t"
done
PATH=$bin bash "$src/Classify.Backends.Torch/native/glibcxx-compat.sh" "$unpatched" "$work/glibcxx2" auto >/dev/null 2>"$work/err"; rc=$?
if [ "$rc" -ne 0 ] && grep -q "error CLASSIFY002: .*needs 'patchelf'.*apt-get install patchelf g++" "$work/err"; then
  pass "without patchelf the patch step fails with what to install"
else
  fail "without patchelf the patch step says what to install" "exit $rc: $(cat "$work/err")"
fi
finish
