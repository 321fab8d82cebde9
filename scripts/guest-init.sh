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

# Counters of the one running VM, from KVM's debugfs, as "name=value" words.
kvm_counters() {
	d=$(ls -d /sys/kernel/debug/kvm/*-*/ 2>/dev/null | head -n1)
	[ -n "$d" ] || { echo "novm=1"; return; }
	out=
	for c in exits hypercalls halt_exits irq_exits irq_window_exits \
		request_irq_exits directed_yield_attempted; do
		[ -f "$d$c" ] && out="$out $c=$(cat "$d$c")"
	done
	# Sender-side x2APIC ICR writes, from the kvm_msr histogram.
	h=/sys/kernel/tracing/events/kvm/kvm_msr/hist
	icr=$(grep -o 'hitcount: *[0-9]*' "$h" 2>/dev/null | awk '{s+=$2} END {print s+0}')
	echo "$out icr_writes=$icr"
}

run_l2() {
	# Count x2APIC ICR writes (MSR 0x830) by L2 in a histogram.
	t=/sys/kernel/tracing/events/kvm/kvm_msr/trigger
	[ -f "$t" ] && echo 'hist:keys=ecx if write == 1 && ecx == 0x830' >"$t"
	mkfifo /tmp/l2in
	exec 3<>/tmp/l2in
	echo "@@L2 starting: smp=$L2_SMP@@"
	timeout -k 5 "${L2_TIMEOUT:-1500}" qemu-system-x86_64 -enable-kvm -cpu host \
		-smp "$L2_SMP" -m 768M -display none -serial stdio -monitor none \
		-no-reboot -nic none -kernel /l2/bzImage -initrd /l2/initrd.cpio \
		-append "$L2_CMDLINE" <&3 2>&1 |
		while IFS= read -r line; do
			line=$(printf '%s' "$line" | tr -d '\r')
			echo "L2| $line"
			case "$line" in
			*@@COUNTERS*@@*)
				echo "ack $(kvm_counters)" >/tmp/l2in ;;
			esac
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
