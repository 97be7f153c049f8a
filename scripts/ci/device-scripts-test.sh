#!/usr/bin/env bash
# CI for the GPU device check (issue 26), which runs on a lent GPU machine only: here its scripts must pass the
# linter, and `gpu-check.sh --dry-run` must print a plan that holds every check the issue lists, each with its
# threshold, within one device call's budget. Prints PASS/FAIL per check and "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v shellcheck >/dev/null || apt_install /dev/null shellcheck
if shellcheck "$repo"/scripts/device/*.sh >"$work/shellcheck.log" 2>&1; then
    pass "shellcheck scripts/device/*.sh"
else
    fail "shellcheck scripts/device/*.sh" "$(grep -c '^In ' "$work/shellcheck.log") findings: $(head -n 3 "$work/shellcheck.log" | tr '\n' ' ')"
fi
if /usr/bin/python3 -m py_compile "$repo/scripts/device/gpu-check.py" 2>"$work/py.log"; then
    pass "scripts/device/gpu-check.py compiles"
else
    fail "scripts/device/gpu-check.py compiles" "$(head -n 3 "$work/py.log" | tr '\n' ' ')"
fi

plan=$work/plan.txt
if bash "$repo/scripts/device/gpu-check.sh" --dry-run >"$plan" 2>&1; then
    pass "gpu-check.sh --dry-run exits 0 without a GPU or a built app"
else
    fail "gpu-check.sh --dry-run" "exit $?: $(tail -n 3 "$plan" | tr '\n' ' ')"
fi
# The issue's list: preprocessing on/off, a 130-image run at batch 32, fp16 and fp16+NHWC against the CPU, the
# EdgeTPU float and fp16 files, --device auto, two ranks on one GPU, repeat determinism; plus doctor and the CPU.
for check in doctor cuda-vs-cpu pre-on-vs-off repeat auto-vs-cuda fp16-vs-cpu fp16-nhwc-vs-cpu edgetpu-vs-cpu \
             edgetpu-fp16-vs-cpu ranks-vs-one; do
    if grep -qE "^check +$check +[0-9]+s " "$plan"; then
        pass "the plan checks $check, with a time limit"
    else
        fail "the plan checks $check" "no 'check $check' line in the dry run"
    fi
done
if grep -q -- "--batch_size 32" "$plan" && grep -qE "^check +cuda .*130 results" "$plan"; then
    pass "the plan runs 130 images at batch 32 (a last, partial batch of 2) and counts the results"
else
    fail "the plan runs 130 images at batch 32" "$(grep -E '^(run|check) +cuda ' "$plan" | tr '\n' ' ')"
fi
thresholds=$(grep -cE '^check .*(<=|>=|equal|identical)' "$plan")
if [ "$thresholds" -ge 10 ]; then pass "each comparison states its threshold ($thresholds lines)"
else fail "each comparison states its threshold" "$thresholds lines with a threshold"; fi
if grep -qE '^budget 360 s' "$plan"; then pass "the check is sized to a 360 s budget (one device call of a 15-minute lease)"
else fail "the check's budget" "$(grep -m1 budget "$plan")"; fi
finish
