#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make soak [DURATION=minutes]: the long versions of the reliability tests,
# in a TCG guest (x2APIC path) and in nested L2 (x2APIC and hypercall
# paths): scftorture per mode, CPU hotplug under scftorture, load/unload
# under traffic and knob fuzzing; in nested L2 also injected hypercall
# failures under scftorture.  DURATION (default 10) sets the
# scftorture minutes per mode and scales the other counts.

. "$(dirname "$0")/common.sh"

MIN=${DURATION:-10}
case "$MIN" in '' | *[!0-9]*) die "DURATION must be a number of minutes" ;; esac
[ "$MIN" -ge 1 ] || die "DURATION must be at least 1"
SECS=$((MIN * 60))
# Per mode: kernel + up to 3 modes of scftorture, plus the other tests.
LIMIT=$((SECS * 5 + 1800))

passed=0 failed=0
run() {
	if "$TOP/scripts/vm.sh" "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
envs=(--env "TORTURE_SECS=$SECS" --env "HOTPLUG_CYCLES=$((MIN * 20))"
	--env "LOAD_CYCLES=$((MIN * 40 > 200 ? MIN * 40 : 200))"
	--env "FUZZ_WRITES=$((MIN * 2000 > 10000 ? MIN * 2000 : 10000))")
tests=(--guest-test torture --guest-test hotplug --guest-test loadunload --guest-test knobfuzz)
run --mode tcg --name soak-tcg --smp 4 "${envs[@]}" "${tests[@]}" --timeout "$LIMIT"
run --mode nested --name soak-nested --smp 4 "${envs[@]}" "${tests[@]}" \
	--guest-test faults --timeout $((LIMIT * 3))
echo "soak: $passed passed, $failed failed"
[ "$failed" = 0 ]
