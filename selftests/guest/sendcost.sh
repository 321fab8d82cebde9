#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The time of the send path alone: a reschedule IPI to one busy target
# through smp_ops, timed around the call with interrupts off (no waiting
# for the target), through the kernel's own x2APIC path and through
# ipi_steer in x2apic and auto mode, same run.  Both paths make the same one
# ICR write, so the difference is ipi_steer's own code.  Under emulation the
# figures are emulator nanoseconds, not hardware cycles.  Every IPI must
# be delivered; the figures are reported, not asserted.
. /tests/ktap.sh
. /tests/traffic.sh

OPS=${SENDCOST_OPS:-2000}
K=/sys/kernel/ipi_steer
ktap_header
traffic_load
[ "$(nproc)" -ge 2 ] || { ktap_skip "needs 2 vCPUs"; ktap_finish; }
taskset -c 1 sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT
mhz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9]*\.[0-9]*\) MHz processor.*/\1/p' | tail -n1)
echo "# TSC: ${mhz:-?} MHz"

# cost WHO: sets $val to the send path's time per IPI, in ns.
cost() {
	r=$(traffic resched "$OPS" 1)
	if [ "$(field lost "$r")" = 0 ] && [ "$(field handled "$r")" = "$OPS" ]; then
		ktap_ok "$1: $OPS reschedule IPIs delivered"
	else
		ktap_fail "$1: $r"
	fi
	val=$(awk -v s="$(field send "$r")" -v n="$OPS" -v m="${mhz:-1000}" \
		'BEGIN { printf "%.1f", s / n / (m / 1000) }')
}
cost kernel
kernel=$val
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
echo x2apic >$K/mode
cost "ipi_steer x2apic"
x2apic=$val
echo auto >$K/mode
cost "ipi_steer auto"
auto=$val
ktap_check "rmmod ipi_steer" rmmod ipi_steer
echo "# send path per reschedule IPI (ns): kernel $kernel, ipi_steer x2apic $x2apic, auto $auto"
echo "# send path ratio: x2apic $(awk -v a="$x2apic" -v b="$kernel" 'BEGIN { printf "%.3f", a / b }'), auto $(awk -v a="$auto" -v b="$kernel" 'BEGIN { printf "%.3f", a / b }')"
ktap_finish
