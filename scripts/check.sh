#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test of the project, from whatever is already cached.
# Stages run in order; a failing stage is reported and the others still run.
# Ends with "N passed, M failed".

. "$(dirname "$0")/common.sh"

passed=0 failed=0 skipped=0 failures= skips=
# Each stage's output is also kept, so that the end of the run can repeat
# what the failed ones said: a CI log is often read from its tail.
STAGE_LOGS=$TOP/build/logs/stages
rm -rf "$STAGE_LOGS"
mkdir -p "$STAGE_LOGS"
stage() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	log "=== $name"
	"$@" 2>&1 | tee "$STAGE_LOGS/$name.out"
	rc=${PIPESTATUS[0]}
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		log "=== $name: pass ($(($(date +%s) - t0)) s)"
	elif [ $rc = 3 ]; then
		skipped=$((skipped + 1))
		skips="$skips $name"
		log "=== $name: SKIPPED, nested L2 unusable under emulation ($(($(date +%s) - t0)) s)"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		log "=== $name: FAIL ($(($(date +%s) - t0)) s)"
	fi
}

set +e
stage core-tests "$TOP/scripts/core-test.sh"
# How L1 judges L2's console: which deaths are restarted, which judged.
stage l2-classify "$TOP/scripts/l2-classify-test.sh"
# How a run's log is judged: earlier boots, died L2s, silence, errors.
stage summary-rules "$TOP/scripts/summary-test.sh"
stage toolchain "$TOP/scripts/toolchain.sh"
stage kernel "$TOP/scripts/kernel.sh"
stage kernel-host env IPI_STEER_KERNEL_FLAVOUR=host "$TOP/scripts/kernel.sh"
# The host patches' Rust in KVM, through the kernel's clippy lints.
stage kvm-clippy "$TOP/scripts/kvm-clippy.sh"
stage module "$TOP/scripts/module.sh"
stage intree "$TOP/scripts/intree.sh"
stage kselftests-build "$TOP/scripts/kselftests.sh"
stage tcg-dense "$TOP/scripts/vm.sh" --mode tcg --name tcg-dense --smp 4 \
	--guest-test smoke --guest-test kunit --guest-test knobs --guest-test delivery \
	--env TORTURE_SECS=10 --guest-test torture \
	--env HOTPLUG_CYCLES=3 --guest-test hotplug \
	--env LOAD_CYCLES=20 --guest-test loadunload \
	--env FUZZ_WRITES=450 --guest-test knobfuzz
stage tcg-roundtrip "$TOP/scripts/vm.sh" --mode tcg --name tcg-roundtrip --smp 2 \
	--guest-test roundtrip --guest-test sendcost
stage tcg-sparse "$TOP/scripts/vm.sh" --mode tcg --name tcg-sparse \
	--smp 6 --topology sockets=2,cores=3 --guest-test delivery
stage nested "$TOP/scripts/vm.sh" --mode nested --name nested --smp 4 \
	--host-test kvm_selftests --guest-test smoke --guest-test kunit --guest-test knobs \
	--guest-test delivery --env EXITS_OPS=50 --env EXITS_KINDS=single,many \
	--guest-test exits --env TORTURE_SECS=10 --guest-test faults \
	--guest-test torture --env HOTPLUG_CYCLES=3 --guest-test hotplug \
	--timeout 3600

# Debian's stock cloud kernel: ipi_steer built for it (with every
# consistency check), refused for anything it can't be proven for, loaded
# into Debian's own vmlinuz under TCG (the module Debian's dkms built and
# installed, as make install does) and as nested L2 (make stock's), and
# its exits table there equal to the test kernel's.  In nested-stock, L1's
# KVM ignores unsupported MSR writes (kvm.ignore_msrs): ipi_steer's
# registration of posted-interrupt descriptors then succeeds without the
# host filling the region, and the module must withdraw it (smoke); in
# nested, KVM refuses the registration.
stage stock-build "$TOP/scripts/stock.sh"
stage stock-refusals "$TOP/scripts/stock-refusals.sh"
stage tcg-stock "$TOP/scripts/vm.sh" --mode tcg --name tcg-stock --smp 4 \
	--guest-kernel stock --stock-module dkms \
	--guest-test smoke --guest-test knobs --guest-test delivery
stage nested-stock "$TOP/scripts/vm.sh" --mode nested --name nested-stock --smp 4 \
	--host-test ignore_msrs --env HOST_IGNORES_MSRS=1 \
	--guest-kernel stock --guest-test smoke --guest-test knobs --guest-test delivery \
	--env EXITS_OPS=50 --env EXITS_KINDS=single,many --guest-test exits \
	--guest-test roundtrip --timeout 2400
# The exits table with 8 vCPUs in L2 (and in L1: fewer L1 threads than L2
# vCPUs lose L2 under the emulator), Debian's kernel as L2 (the debug
# kernel is too slow a guest at that size), and the round trip there.
stage nested8-stock "$TOP/scripts/vm.sh" --mode nested --name nested8-stock \
	--smp 8 --l1-smp 8 --guest-kernel stock --guest-test smoke --guest-test delivery \
	--env EXITS_OPS=50 --env EXITS_KINDS=single,many --guest-test exits \
	--guest-test roundtrip --timeout 3000
# Every cell of the exits tables, rounded, equals the cost model's
# prediction for the same APIC ids and costs (rust/sim's ipi-predict).
stage exits-predicted "$TOP/scripts/exits-predict.sh" "$TOP/build/logs/nested.log" \
	"$TOP/build/logs/nested-stock.log" "$TOP/build/logs/nested8-stock.log"
stage stock-exits-match "$TOP/scripts/exits-compare.sh" \
	"$TOP/build/logs/nested.log" "$TOP/build/logs/nested-stock.log"

# The harness must catch real faults: a module that loses IPIs, a knob
# that applies invalid input, a guest that panics and one whose CPU shuts
# down on a triple fault, must each fail their run with a readable message.
expect_failure() {
	local name=$1 pattern=$2 out
	shift 2
	out=$("$@" 2>&1)
	if [ $? = 0 ]; then
		echo "$out"
		echo "the $name fault was NOT caught"
		return 1
	fi
	echo "$out" | grep -E "$pattern" | head -n 3
	echo "$out" | grep -Eq "$pattern" || { echo "$out"; return 1; }
	echo "caught, as it must be"
}
stage fault-drop-ipi-caught expect_failure drop_ipi 'lost=[1-9]|CSD lock|stall' \
	env IPI_STEER_FAULT=drop_ipi "$TOP/scripts/vm.sh" --mode tcg \
	--name fault-drop-ipi --smp 4 --guest-test delivery --timeout 300
stage fault-knob-invalid-caught expect_failure knob_invalid "costs: '[a-z0-9]+ 1000000001 0' was accepted" \
	env IPI_STEER_FAULT=knob_invalid "$TOP/scripts/vm.sh" --mode tcg \
	--name fault-knob-invalid --smp 2 --guest-test knobs --timeout 300
stage fault-guest-panic-caught expect_failure guest_panic 'Kernel panic' \
	env IPI_STEER_FAULT=guest_panic "$TOP/scripts/vm.sh" --mode tcg \
	--name fault-guest-panic --smp 2 --guest-test smoke --timeout 300
stage fault-guest-triple-fault-caught expect_failure guest_triple_fault \
	'guest ended early: QEMU exited with status 0 after a triple fault' \
	env IPI_STEER_FAULT=guest_triple_fault "$TOP/scripts/vm.sh" --mode tcg \
	--name fault-guest-triple-fault --smp 2 --guest-test smoke --timeout 300
# Leave the normal module built.
"$TOP/scripts/module.sh" >/dev/null

for f in $failures; do
	echo
	echo "=== what the failed stage $f said, from its last 100 lines:"
	tail -n 100 "$STAGE_LOGS/$f.out"
done
echo
[ -z "$failures" ] || echo "failed stages:$failures"
[ -z "$skips" ] || echo "skipped stages (nested L2 died under emulation in every attempt):$skips"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
