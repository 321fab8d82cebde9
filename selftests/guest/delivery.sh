#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every IPI is delivered exactly as often as it is sent: for each IPI kind
# and each target count 1..N-1, first with the kernel's own paths, then with
# ipi_steer in every mode it offers; each forced mode must actually send
# through its transport.
. /tests/ktap.sh
. /tests/traffic.sh

OPS=${DELIVERY_OPS:-20}
n=$(nproc)
K=/sys/kernel/ipi_steer
ktap_header
traffic_load
echo "# APIC ids: $(sed -n 's/^apicid[^:]*: //p' /proc/cpuinfo | tr '\n' ' ')"

round() {
	for kind in resched single many; do
		k=1
		while [ $k -lt "$n" ]; do
			r=$(traffic "$kind" "$OPS" "$(targets_of $k)")
			s=$(field sent "$r") h=$(field handled "$r") l=$(field lost "$r")
			if [ -n "$s" ] && [ "$s" = $((OPS * k)) ] && [ "$h" = "$s" ] && [ "$l" = 0 ]; then
				ktap_ok "$1: $kind to $k targets: sent=$s handled=$h"
			else
				ktap_fail "$1: $kind to $k targets: $r"
			fi
			k=$((k + 1))
		done
	done
}

stat() { sed -n "s/^$1 //p" $K/stats; }

round "kernel"
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
modes=$(tr -d '[]' <$K/mode)
echo "# modes: $modes"
for m in $modes; do
	ktap_check "mode $m accepted" sh -c "echo $m >$K/mode"
	echo 1 >$K/reset
	round "ipi_steer $m"
	icr=$(stat x2apic_icr_writes) hc=$(stat hypercalls)
	fb=$(($(stat fallback_icr) + $(stat fallback_kernel)))
	echo "# $m: icr_writes=$icr hypercalls=$hc fallbacks=$fb"
	case $m in
	x2apic) ktap_check "$m: only ICR writes ($icr) and no hypercalls ($hc)" \
		test "$icr" -gt 0 -a "$hc" = 0 ;;
	hypercall) ktap_check "$m: only hypercalls ($hc) and no ICR writes ($icr)" \
		test "$hc" -gt 0 -a "$icr" = 0 ;;
	auto) ktap_check "$m: IPIs went through ipi_steer ($icr ICR writes, $hc hypercalls)" \
		test $((icr + hc)) -gt 0 ;;
	esac
	ktap_check "$m: no fallbacks" test "$fb" = 0
done
echo auto >$K/mode
ktap_check "rmmod ipi_steer" rmmod ipi_steer
round "kernel after rmmod"
ktap_finish
