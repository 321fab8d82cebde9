# SPDX-License-Identifier: GPL-2.0
#
# How L1 reads the console of its nested guest (L2), sourced by the harness
# init (scripts/guest-init.sh) and by its test (scripts/l2-classify-test.sh).
#
# l2_line LINE: called for every line L2 prints; notes what the line says
# about L2 in flag files /tmp/l2*, answers L2's counter requests, and ends
# L2 (end_l2_when_quiet, from the caller) once a stuck L2 has reported.
#
# l2_verdict: once L2's QEMU has exited, from those flags: verdict=tsc (QEMU
# refused L1's TSC rate: start again at KVM's), qemuerr (QEMU refused to
# start), judge (L2 finished, a test failed, or a kernel error that may be
# ours: the run is judged as it is), or restart with $why (L2 died the way
# only the emulator kills it; see run_l2 in scripts/guest-init.sh).  A
# kernel report with a frame of the module ([ipi_steer]) is always judged.

l2_line() {
	line=$1
	case "$line" in
	*@@COUNTERS*@@*)
		# The answer repeats the request's number (l1_counters).
		n=${line##*@@COUNTERS}
		n=${n%%@@*}
		echo "ack ${n# } $(kvm_counters)" >/tmp/l2in ;;
	*"TSC frequency mismatch between VM"*"and host ("*" kHz)"*)
		t=${line##*and host (}
		[ -s /tmp/l2tschost ] || echo "${t%% kHz)*}" >/tmp/l2tschost.new ;;
	"qemu-system-x86_64: warning:"* | "qemu-system-x86_64: terminating on signal"*) ;;
	"qemu-system-x86_64: "*)
		# QEMU refused to start (a bad option or topology):
		# a harness error, not a death under emulation.
		echo "${line#qemu-system-x86_64: }" >/tmp/l2qemuerr ;;
	@@START\ *@@)
		: >/tmp/l2tests ;;
	*"@@L2 UNHEALTHY"*)
		: >/tmp/l2trouble
		: >/tmp/l2boot ;;
	@@RESULT\ *\ 0@@)
		t=${line#@@RESULT }
		echo "${t% 0@@}" >>/tmp/l2passed ;;
	@@RESULT\ *@@)
		: >/tmp/l2failed ;;
	@@DONE@@)
		: >/tmp/l2done ;;
	"@@L2 qemu exit status 124@@")
		# L2 made no progress within its time limit (its clock
		# stops like the other emulation deaths).
		: >/tmp/l2hung ;;
	*"[ipi_steer]"*)
		# A frame of the module in a kernel report: such an
		# L2 is never put down to the emulator (see run_l2).
		: >/tmp/l2ours ;;
	*"possible recursive locking detected"*)
		: >/tmp/l2recursive
		: >/tmp/l2trouble
		if [ ! -e /tmp/l2tests ]; then
			: >/tmp/l2boot
			end_l2_when_quiet 60
		fi ;;
	*"(hrtimer_bases.lock)"*", at: hrtimer_interrupt+"*)
		# lockdep: hrtimer_interrupt() taking the lock that
		# the CPU already holds in its own timer code, that
		# is, a timer interrupt taken with interrupts off.
		# No guest code can make a CPU do that; the emulated
		# SVM does (also seen while L2 booted, before any
		# module code).  The CPU then spins on that lock.
		if [ -e /tmp/l2recursive ]; then
			: >/tmp/l2irqoff
			end_l2_when_quiet 60
		fi ;;
	*"still haven't responded to the NMI"*)
		# RCU's stall report: a vCPU took no NMI for 10 s,
		# so it is not being run at all; no guest code can
		# block NMIs outside an NMI handler.
		: >/tmp/l2nmi
		: >/tmp/l2trouble ;;
	*"ENTRY_TRAMPOLINE stack guard page was hit"*)
		# L2's entry code took #GP on its own IRET back to
		# the kernel, again and again, until the entry stack
		# overflowed.  Seen under the emulated SVM only, and
		# also with ipi_steer not loaded (the kernel's own
		# rows of the exits test): a death under emulation.
		: >/tmp/l2iretgp
		: >/tmp/l2trouble ;;
	*"timer wakeup didn't happen"*)
		# RCU's own diagnosis: the grace-period kthread's
		# timer never fired.  L2 will not recover.
		: >/tmp/l2timer
		: >/tmp/l2trouble
		end_l2_when_quiet 120 ;;
	*"detected stalls on CPUs"* | *"soft lockup"* | *"non-responsive CSD lock"*)
		# Stuck: end L2 once its reports are out (restarted
		# only if they show lost timer wakeups, see run_l2).
		: >/tmp/l2trouble
		end_l2_when_quiet 120 ;;
	*"Kernel panic"* | *"BUG: "* | *"Oops"* | *"WARNING: "* | *"Call Trace"*)
		: >/tmp/l2trouble
		if [ ! -e /tmp/l2tests ]; then
			# Before the first test: no project code has
			# run in L2 yet; see run_l2.
			: >/tmp/l2boot
			end_l2_when_quiet 60
		fi ;;
	esac
}

l2_verdict() {
	verdict=restart why=
	if [ -e /tmp/l2qemuerr ] && [ -s /tmp/l2tschost.new ]; then
		verdict=tsc
	elif [ -e /tmp/l2qemuerr ]; then
		verdict=qemuerr
	elif [ -e /tmp/l2ours ]; then
		# A kernel report with the module in it: judged as it is.
		verdict=judge
	elif [ -e /tmp/l2boot ]; then
		why='kernel error or unhealthy timers while booting, before any test'
	elif [ -e /tmp/l2done ] || [ -e /tmp/l2failed ]; then
		# Finished, or a test failed: judged as it is.
		verdict=judge
	elif [ -e /tmp/l2timer ]; then
		why='RCU stall, timer wakeups lost'
	elif [ -e /tmp/l2iretgp ]; then
		why='#GP on its own IRET until the entry stack overflowed'
	elif [ -e /tmp/l2irqoff ]; then
		why='timer interrupt taken with interrupts off (lockdep: recursive hrtimer_bases.lock)'
	elif [ -e /tmp/l2nmi ]; then
		why='RCU stall on a vCPU that took no NMI for 10 s'
	elif [ -e /tmp/l2trouble ]; then
		verdict=judge
	elif [ -e /tmp/l2hung ]; then
		why='hung until its time limit'
	elif [ -e /tmp/l2silent ]; then
		why="silent for ${L2_SILENCE:-150} s, stopped"
	else
		why='silent exit'
	fi
}
