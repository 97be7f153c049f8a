# shellcheck shell=bash
# Sourced by scripts/test.sh and the system tests here: PASS/FAIL lines and the "N passed, N failed" totals.
passed=0 failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1: $2"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

# add_dotnet_totals LOG: adds the per-assembly summaries of a `dotnet test` log ("Passed!  - Failed: 0, Passed: 23,
# ...") to the totals; false when the log has none.
add_dotnet_totals() {
  local summaries
  summaries=$(grep -E '^(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+' "$1") || return 1
  passed=$((passed + $(echo "$summaries" | sed -E 's/.*Passed: +([0-9]+).*/\1/' | awk '{s+=$1} END {print s+0}')))
  failed=$((failed + $(echo "$summaries" | sed -E 's/.*Failed: +([0-9]+), Passed.*/\1/' | awk '{s+=$1} END {print s+0}')))
}

# skip WHAT WHY: a check this machine cannot run (documented in the script), counted as neither passed nor failed.
skipped=0
skip() { echo "SKIP: $1: $2"; skipped=$((skipped + 1)); }

# apt_install LOG PACKAGE...: installs the Debian packages as root where apt-get exists (apt-get update first), quietly,
# its output in LOG; false where it cannot or apt-get failed. Callers check for what they need afterwards.
apt_install() {
  local log=$1
  shift
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1
}
