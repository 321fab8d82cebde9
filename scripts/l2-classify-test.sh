#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test of how L1 judges its nested guest's console (scripts/l2-classify.sh):
# console excerpts in the shapes the kernel prints them, fed line by line,
# and the verdict each must get.  Above all, a report with a frame of the
# module in it, or a test failure, is never put down to the emulator.
# Runs in a private mount namespace with its own /tmp (the classifier keeps
# its flags in /tmp/l2*).  Prints TAP; exit status 1 on any failure.

set -eu
if [ "${L2_CLASSIFY_INNER:-0}" != 1 ]; then
	# The checkout itself may be under /tmp: both scripts are read
	# before the private /tmp hides it.
	TOP=$(cd "$(dirname "$0")/.." && pwd)
	exec unshare --mount --propagation private -- env L2_CLASSIFY_INNER=1 \
		L2_CLASSIFY_RULES="$(cat "$TOP/scripts/l2-classify.sh")" \
		bash -c 'mount -t tmpfs tmpfs /tmp && eval "$1"' bash "$(cat "$0")"
fi

eval "$L2_CLASSIFY_RULES"
# What the harness init provides: record instead of acting.
end_l2_when_quiet() { echo "$1" >/tmp/ended; }
kvm_counters() { echo "exits=1"; }

n=0 failed=0
# check NAME EXPECTED-VERDICT EXPECTED-WHY-PATTERN EXPECTED-END < console
check() {
	local name=$1 want=$2 whypat=$3 wantend=$4 line ended
	n=$((n + 1))
	rm -f /tmp/l2* /tmp/ended
	while IFS= read -r line; do
		l2_line "$line"
	done
	l2_verdict
	ended=$(cat /tmp/ended 2>/dev/null || echo no)
	if [ "$verdict" = "$want" ] && [[ "$why" == $whypat ]] && [ "$ended" = "$wantend" ]; then
		echo "ok $n $name: $verdict${why:+ ($why)}"
	else
		echo "not ok $n $name: got $verdict${why:+ ($why)}, ended: $ended;" \
			"want $want ($whypat), ended: $wantend"
		failed=1
	fi
}

LOCKDEP_HRTIMER='============================================
WARNING: possible recursive locking detected
7.3.4+deb13-cloud-amd64 #1 Not tainted
--------------------------------------------
swapper/2/0 is trying to acquire lock:
ffff88802f6a1d18 (hrtimer_bases.lock){-.-.}-{2:2}, at: hrtimer_interrupt+0x6e/0x250

but task is already holding lock:
ffff88802f6a1d18 (hrtimer_bases.lock){-.-.}-{2:2}, at: hrtimer_start_range_ns+0x119/0x4c0'
LOCKDEP_OTHER='============================================
WARNING: possible recursive locking detected
--------------------------------------------
sh/120 is trying to acquire lock:
ffff88802f6a1d18 (&rq->__lock){-.-.}-{2:2}, at: raw_spin_rq_lock_nested+0x24/0x90

but task is already holding lock:
ffff88802f6a1d18 (&rq->__lock){-.-.}-{2:2}, at: raw_spin_rq_lock_nested+0x24/0x90'
NMI_STALL='rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: 	3-...!: (0 ticks this GP) idle=9b4c/0/0x0 softirq=4520/4520 fqs=0
rcu: rcu_preempt kthread timer wakeup didn'"'"'t happen for 5251 jiffies!
rcu: Stack dump where RCU GP kthread last ran:
Sending NMI from CPU 0 to CPUs 3:
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: 	3-...!: (0 ticks this GP) idle=9b4c/0/0x0 softirq=4520/4520 fqs=1
rcu: rcu_preempt kthread starved for 10502 jiffies!
NMI backtrace for cpu 0
rcu: INFO: 3 still haven'"'"'t responded to the NMI'
NMI_ONLY='rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: 	3-...!: (1 GPs behind) idle=9b4c/0/0x0 softirq=4520/4520 fqs=1
Sending NMI from CPU 0 to CPUs 3:
rcu: INFO: 3 still haven'"'"'t responded to the NMI'
OURS_FRAME='Call Trace:
 <TASK>
 ipi_steer_send_mask+0x1a3/0x2c0 [ipi_steer]
 smp_call_function_many_cond+0x2b1/0x6a0'
WARN='------------[ cut here ]------------
WARNING: CPU: 1 PID: 1 at kernel/time/timer.c:1700 __run_timers+0x1f/0x300'
IRETGP='traps: PANIC: double fault, error_code: 0x0
BUG: ENTRY_TRAMPOLINE stack guard page was hit at 0000000088a2b8b6'

# Before any test: no code of ours has run.
check "lockdep report while booting: restarted" restart 'kernel error*while booting*' 60 \
	<<<"$LOCKDEP_OTHER"
check "WARNING while booting: restarted" restart 'kernel error*while booting*' 60 <<<"$WARN"
check "unhealthy timers at the health check: restarted" restart 'kernel error or unhealthy timers*' no \
	<<<'@@L2 UNHEALTHY: timer softirqs did not advance: CPU2: 2 -> 2; @@'
check "module frame while booting: judged" judge '' 60 <<<"$WARN
$OURS_FRAME"
# After the first test started.
T='@@START smoke@@
ok 1 loaded
@@RESULT smoke 0@@
@@START delivery@@'
check "all passed: judged" judge '' no <<<"$T
@@RESULT delivery 0@@
@@DONE@@"
check "a test failed: judged" judge '' no <<<"$T
not ok 3 delivery: lost=1
@@RESULT delivery 1@@
@@DONE@@"
check "lockdep on hrtimer_bases.lock from hrtimer_interrupt: restarted" restart 'timer interrupt taken with interrupts off*' 60 \
	<<<"$T
$LOCKDEP_HRTIMER"
check "the same with a module frame: judged" judge '' 60 <<<"$T
$LOCKDEP_HRTIMER
$OURS_FRAME"
check "lockdep on another lock: judged" judge '' no <<<"$T
$LOCKDEP_OTHER"
check "vCPU without NMIs: restarted" restart 'RCU stall, timer wakeups lost' 120 <<<"$T
$NMI_STALL"
check "vCPU without NMIs, no timer diagnosis: restarted" restart 'RCU stall on a vCPU that took no NMI*' 120 \
	<<<"$T
$NMI_ONLY"
check "vCPU without NMIs with a module frame: judged" judge '' 120 <<<"$T
$NMI_ONLY
$OURS_FRAME"
check "CSD lock timeout: judged" judge '' 120 <<<"$T
smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5000000001 ns for CPU#03"
check "WARNING after tests started: judged" judge '' no <<<"$T
$WARN"
check "#GP on IRET until the entry stack overflowed: restarted" restart '#GP on its own IRET*' no \
	<<<"$T
$IRETGP"
check "hung until its time limit: restarted" restart 'hung until its time limit' no <<<"$T
@@L2 qemu exit status 124@@"
check "QEMU exits without a word: restarted" restart 'silent exit' no <<<"$T
@@L2 qemu exit status 0@@"
check "QEMU refuses an option: a harness error" qemuerr '' no \
	<<<"qemu-system-x86_64: -smp 300: Invalid SMP CPUs 300"
check "QEMU refuses the TSC rate: started again at KVM's" tsc '' no <<<"qemu-system-x86_64: warning: TSC frequency mismatch between VM (2100000 kHz) and host (2094477 kHz), and TSC scaling unavailable
qemu-system-x86_64: kvm_init_vcpu: kvm_arch_init_vcpu failed (0): Operation not supported"

echo "1..$n"
exit $failed
