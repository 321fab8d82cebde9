#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of every harness guest.  ROLE=guest runs the guest tests; ROLE=l1
# runs the host tests, then starts the nested guest (L2) under KVM and relays
# its console, answering its counter requests (see selftests/lib/ktap.sh).
# Results are reported as "@@RESULT <test> <status>@@"; "@@DONE@@" ends a
# run that got through.

/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
stty -echo 2>/dev/null
. /etc/harness.conf
echo "@@BOOTED $ROLE $(nproc) cpus@@"

run_tests() {
	if [ "${IPI_STEER_FAULT:-}" = guest_panic ]; then
		insmod /lib/modules/ipi_traffic.ko
		echo "panic 1 0" >/sys/kernel/debug/ipi_traffic/run
	fi
	for t in $TESTS; do
		echo "@@START $t@@"
		sh "/tests/$t.sh"
		echo "@@RESULT $t $?@@"
	done
}

# The L1 thread of L2's vCPU 0 (QEMU names it "CPU 0/KVM"): the guest
# tests send from CPU 0, so its events are the sender-side counts.
vcpu0_tid() {
	for t in /proc/[0-9]*/task/[0-9]*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "CPU 0/KVM" ] && { basename "$t"; return; }
	done
}

# hist_count EVENT TID: hits of EVENT's common_pid histogram for TID.
hist_count() {
	awk -v tid="$2" '/common_pid/ {
		s = $0; sub(/}.*/, "", s); n = split(s, w, /[^0-9]+/)
		pid = ""; for (i = n; i >= 1; i--) if (w[i] != "") { pid = w[i]; break }
		h = $0; sub(/.*hitcount: */, "", h)
		if (pid == tid) c += h + 0
	} END { print c + 0 }' "/sys/kernel/tracing/events/kvm/$1/hist" 2>/dev/null
}

# Counters of the one running VM as "name=value" words: KVM's debugfs
# totals over all vCPUs, and vCPU 0's x2APIC ICR writes, hypercalls and
# exits from the kvm_msr, kvm_hypercall and kvm_exit histograms.
kvm_counters() {
	d=$(ls -d /sys/kernel/debug/kvm/*-*/ 2>/dev/null | head -n1)
	[ -n "$d" ] || { echo "novm=1"; return; }
	out=
	for c in exits hypercalls halt_exits irq_exits irq_window_exits \
		request_irq_exits directed_yield_attempted; do
		[ -f "$d$c" ] && out="$out $c=$(cat "$d$c")"
	done
	[ -n "$VCPU0" ] || VCPU0=$(vcpu0_tid)
	echo "$out icr_writes=$(hist_count kvm_msr "$VCPU0")" \
		"sender_hypercalls=$(hist_count kvm_hypercall "$VCPU0")" \
		"sender_exits=$(hist_count kvm_exit "$VCPU0")"
}

run_l2_once() {
	{
		timeout -k 5 "${L2_TIMEOUT:-420}" qemu-system-x86_64 -enable-kvm -cpu host \
			-name l2,debug-threads=on \
			-smp "$L2_SMP" -m 768M -vga none -display none -serial stdio -monitor none \
			-no-reboot -nic none -kernel /l2/bzImage -initrd /l2/initrd.cpio \
			-append "$L2_CMDLINE" <&3 2>&1
		echo "@@L2 qemu exit status $?@@"
	} |
		while IFS= read -r line; do
			line=$(printf '%s' "$line" | tr -d '\r')
			echo "L2| $line"
			case "$line" in
			*@@COUNTERS*@@*)
				echo "ack $(kvm_counters)" >/tmp/l2in ;;
			@@DONE@@)
				touch /tmp/l2done ;;
			"@@L2 qemu exit status 124@@")
				# L2 made no progress within its time limit (its clock
				# stops like the other emulation deaths).
				touch /tmp/l2hung ;;
			*"detected stalls on CPUs"* | *"timer wakeup didn't happen"*)
				case "$line" in *"timer wakeup didn't happen"*) touch /tmp/l2timer ;; esac
				touch /tmp/l2trouble
				# L2 will not recover: end it after its reports.
				[ -e /tmp/l2stall ] || {
					touch /tmp/l2stall
					(sleep 30; kill $(pidof qemu-system-x86_64)) &
				} ;;
			*"soft lockup"* | *"non-responsive CSD lock"*)
				# Stuck: end L2 after its reports (restarted only if
				# they show lost timer wakeups, see run_l2).
				touch /tmp/l2trouble
				[ -e /tmp/l2stall ] || {
					touch /tmp/l2stall
					(sleep 60; kill $(pidof qemu-system-x86_64)) &
				} ;;
			*"Kernel panic"* | *"BUG: "* | *"Oops"* | *"WARNING: "* | *"Call Trace"*)
				touch /tmp/l2trouble ;;
			esac
		done
}

run_l2() {
	# Per-thread (= per-vCPU) histograms of ICR writes, hypercalls, exits.
	e=/sys/kernel/tracing/events/kvm
	echo 'hist:keys=common_pid if write == 1 && ecx == 0x830' >$e/kvm_msr/trigger
	echo 'hist:keys=common_pid if nr == 10' >$e/kvm_hypercall/trigger
	echo 'hist:keys=common_pid' >$e/kvm_exit/trigger
	VCPU0=
	mkfifo /tmp/l2in
	exec 3<>/tmp/l2in
	# Under TCG, L2 sometimes dies under the emulated SVM: QEMU exits
	# silently (a triple fault; seen during L2's boot, before any test), or
	# L2's idle vCPUs stop taking timer interrupts and RCU stalls ("timer
	# wakeup didn't happen").  Such an L2 is restarted, at most five times,
	# and every restart is reported in the summary; any other kernel error
	# (oops, BUG, WARNING, CSD-lock timeout) or test failure ends the run.
	attempt=1
	while :; do
		rm -f /tmp/l2done /tmp/l2stall /tmp/l2timer /tmp/l2trouble /tmp/l2hung
		echo "@@L2 starting: smp=$L2_SMP attempt=$attempt@@"
		run_l2_once
		[ -e /tmp/l2done ] && break
		if [ -e /tmp/l2trouble ] && [ ! -e /tmp/l2timer ]; then
			break
		fi
		why='silent exit'
		[ -e /tmp/l2hung ] && why='hung until its time limit'
		[ -e /tmp/l2timer ] && why='RCU stall, timer wakeups lost'
		if [ "$attempt" -ge 6 ]; then
			echo "@@HARNESS L2 unusable under emulation: died in all $attempt attempts (last: $why)@@"
			break
		fi
		echo "@@HARNESS L2 died under emulation (attempt $attempt: $why), restarting L2@@"
		attempt=$((attempt + 1))
	done
	echo "@@L2 exited@@"
}

if [ "$ROLE" = l1 ]; then
	echo "@@KVM $(ls /dev/kvm 2>/dev/null)@@"
	run_tests
	run_l2
else
	run_tests
fi
echo "@@DONE@@"
poweroff -f
