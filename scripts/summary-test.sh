#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test of how the harness judges a run's console log (scripts/summary.sh):
# logs in the shapes scripts/vm.sh and the guests write them, with
# earlier boots that hung or that L1 ended to be booted again, L2 attempts
# and guests that died under the emulator, a guest that went silent, and
# kernel errors in each part; the exit status and the line each must give.
# Above all, a kernel error is never dropped with the boot it was in,
# unless that boot never reached init.  Prints TAP; exit status 1 on any
# failure.

set -u
shopt -s lastpipe # check runs at the end of pipes, in this shell
SUMMARY=$(cd "$(dirname "$0")" && pwd)/summary.sh
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

n=0 failed=0
# check NAME MODE EXPECTED-STATUS EXPECTED-LINE-PATTERN < log
# (the same log path every time, so that a file left by one case can
# mislead the next)
check() {
	local name=$1 mode=$2 want=$3 pat=$4 out rc
	n=$((n + 1))
	cat >"$DIR/run.log"
	out=$("$SUMMARY" "$mode" "$DIR/run.log" smoke kvm_selftests 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && grep -q -E -- "$pat" <<<"$out"; then
		echo "ok $n $name: status $rc"
	else
		echo "not ok $n $name: status $rc, want $want and a line matching '$pat'; it said:"
		sed 's/^/# /' <<<"$out"
		failed=1
	fi
}

# Pieces of a nested log.
l1_boot() { printf '%s\n' 'Linux version 7.3.4 (L1)' '@@BOOTED@@'; }
l1_tests() { printf '%s\n' '@@START kvm_selftests@@' 'ok 1 xapic_ipi_test' '@@RESULT kvm_selftests 0@@'; }
l2_run() {
	printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load' \
		"L2| @@RESULT smoke ${1:-0}@@" 'L2| @@DONE@@'
}
l1_done() { echo '@@DONE@@'; }
reboot() { echo '@@HARNESS L1 reboot: KVM kept L1'"'"'s early TSC rate, 2096468 kHz, not its refined one; booting L1 again (boot 2) with tsc_early_khz=2100000, before L2 ran@@'; }
hung() { echo "@@HARNESS guest hung while booting (attempt $1: no init after 120s, before any test), restarting it@@"; }

{ l1_boot; l1_tests; l2_run; l1_done; } |
	check "a clean nested run passes" nested 0 'L2  smoke +pass'
{ l1_boot; l1_tests; l2_run 1; l1_done; } |
	check "a failed L2 test fails the run" nested 1 'L2  smoke +FAIL'
{ l1_boot; l1_tests; l2_run; echo 'L2| BUG: kernel NULL pointer dereference'; l1_done; } |
	check "a kernel error in L2 fails the run" nested 1 'kernel trouble in the log'
{ l1_boot; l1_tests; reboot; l1_boot; l1_tests; l2_run; l1_done; } |
	check "an L1 reboot is reported and the last boot judged" nested 0 'harness: L1 reboot'
{ l1_boot; echo 'WARNING: CPU: 1 PID: 7 at arch/x86/kvm/x86.c:1'; l1_tests; reboot; l1_boot; l1_tests; l2_run; l1_done; } |
	check "a kernel error in L1's boot before a reboot fails the run" nested 1 "kernel trouble in L1's earlier boots"
{ l1_boot; l1_tests; reboot; l1_boot; l1_tests; l2_run; l1_done; } |
	check "no stale error from the case before" nested 0 'harness: L1 reboot'
{ l1_boot; echo 'BUG: soft lockup - CPU#1 stuck'; reboot; echo 'Linux version 7.3.4 (L1)'; hung 2; l1_boot; l1_tests; l2_run; l1_done; } |
	check "a kernel error before a reboot is kept when the next boot hung" nested 1 "kernel trouble in L1's earlier boots"
{ l1_boot; l1_tests; reboot; echo 'Linux version 7.3.4 (L1)'; hung 2; l1_boot; l1_tests; l2_run; l1_done; } |
	check "a reboot and a hung boot, then a clean one, pass" nested 0 'harness: guest hung while booting \(attempt 2'
{ echo 'Linux version 7.3.4'; echo 'rcu: INFO: rcu_sched detected stalls on CPUs/tasks'; hung 1; l1_boot; l1_tests; l2_run; l1_done; } |
	check "a boot that never reached init is dropped" nested 0 'harness: guest hung while booting \(attempt 1'
{ echo 'Linux version 7.3.4'; hung 1; echo 'Linux version 7.3.4'; hung 2; echo 'Linux version 7.3.4'
	echo '@@HARNESS guest hung while booting in all 3 attempts (no init after 120s)@@'; } |
	check "every boot hung: a failure" nested 1 'the guest did not finish its run'
nmi_death() {
	printf '%s\n' 'rcu: INFO: rcu_sched detected stalls on CPUs/tasks:' 'Sending NMI from CPU 3 to CPUs 0:' \
		"After 10 seconds, these CPUS still haven't responded to the NMI: 0" 'Call Trace:' \
		"@@HARNESS guest died under emulation (attempt $1: a CPU answered no NMI for 10 s), booting it again@@"
}
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load'; nmi_death 1
	l1_boot; l1_tests; l2_run; l1_done; } |
	check "a CPU that answered no NMI: reported, booted again, the last boot judged" nested 0 'harness: guest died under emulation \(attempt 1'
{ l1_boot; echo 'WARNING: CPU: 2 PID: 9 at arch/x86/kvm/lapic.c:1'; l1_tests; nmi_death 1; l1_boot; l1_tests; l2_run; l1_done; } |
	check "a kernel error in L1 before it stopped answering NMIs fails the run" nested 1 "kernel trouble in L1's earlier boots"
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| BUG: unable to handle page fault [ipi_steer]'; nmi_death 1
	l1_boot; l1_tests; l2_run; l1_done; } |
	check "a kernel error in L2 before L1 stopped answering NMIs fails the run" nested 1 "kernel trouble in L1's earlier boots"
stack_death() {
	printf '%s\n' 'BUG: TASK stack guard page was hit at ffa0000000327ff8 (stack is ffa0000000328000..ffa000000032c000)' \
		'Oops: stack guard page: 0000 [#1] SMP' 'Call Trace:' 'Kernel panic - not syncing: Fatal exception in interrupt' \
		"@@HARNESS guest died under emulation (attempt $1: L1's kernel stack overflowed while L2 ran), booting it again@@"
}
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load'; stack_death 1
	l1_boot; l1_tests; l2_run; l1_done; } |
	check "L1's stack overflowed while L2 ran: reported, booted again, the last boot judged" nested 0 "harness: guest died under emulation \(attempt 1: L1's kernel stack"
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| WARNING: CPU: 1 PID: 80 at kernel/smp.c:1'; stack_death 1
	l1_boot; l1_tests; l2_run; l1_done; } |
	check "a kernel error in L2 before L1's stack overflowed fails the run" nested 1 "kernel trouble in L1's earlier boots"
{ l1_boot; l1_tests; nmi_death 1; l1_boot; l1_tests; l2_run; echo 'rcu: INFO: rcu_sched detected stalls on CPUs/tasks:'; l1_done; } |
	check "a stall in the last boot still fails the run" nested 1 'kernel trouble in the log'
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load'
	echo '@@HARNESS timeout: guest silent for 600s, stopped@@'; } |
	check "a guest gone silent fails the run" nested 1 'kernel trouble in the log'
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load' 'L2| BUG: soft lockup - CPU#2 stuck'
	echo '@@HARNESS L2 died under emulation (attempt 1: QEMU exited), restarting it@@'; l2_run; l1_done; } |
	check "an L2 death under emulation is reported; its unfinished test is dropped" nested 0 'harness: L2 died under emulation'
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| BUG: soft lockup - CPU#2 stuck' 'L2| @@RESULT smoke 0@@'
	echo '@@HARNESS L2 died under emulation (attempt 1: QEMU exited), restarting it@@'; l2_run; l1_done; } |
	check "a kernel error in a passed test of a died L2 fails the run" nested 1 'kernel trouble in the log'
{ l1_boot; l1_tests; echo '@@HARNESS L2 unusable under emulation: all 6 attempts died@@'; l1_done; } |
	check "L2 unusable: skipped, never passed" nested 3 'SKIPPED L2 tests'
{ l1_boot; printf '%s\n' '@@START smoke@@' 'ok 1 load' '@@RESULT smoke 0@@'; l1_done; } |
	check "a clean TCG run passes" tcg 0 'L1  smoke +pass'
{ l1_boot; printf '%s\n' '@@START smoke@@' 'ok 1 load' '@@RESULT smoke 0@@' 'Call Trace:'; l1_done; } |
	check "a call trace in a TCG guest fails the run" tcg 1 'kernel trouble in the log'
{ l1_boot; printf '%s\n' '@@START smoke@@' 'ok 1 load'; } |
	check "a TCG guest that stopped fails the run" tcg 1 'smoke +FAIL +\(status missing'
{ l1_boot; l1_tests; printf '%s\n' '@@L2 starting (attempt 1)@@' 'L2| @@START smoke@@' 'L2| ok 1 load'
	echo '@@HARNESS guest ended early: QEMU exited with status 0 after a triple fault (QEMU'"'"'s log)@@'; } |
	check "an L1 that ended by itself says how" nested 1 '^  guest ended early: .*triple fault'

echo "1..$n"
exit $failed
