#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Exits per IPI, measured by the nested host: for the kernel's own paths
# (module not loaded) and for ipi_steer in each mode, each IPI kind and each
# target count (EXITS_KINDS, EXITS_COUNTS: comma-separated), send EXITS_OPS operations and read L1's counters before and
# after.  Sender-side exits are x2APIC ICR writes (kvm_msr histogram in L1)
# plus hypercalls (KVM debugfs); both are exact, apart from the guest's own
# background IPIs.  Prints a markdown table; checks that no IPI was lost,
# that auto mode is at the minimum of the forced transports in every row and
# that the kernel's own paths are never better than auto.
. /tests/ktap.sh
. /tests/traffic.sh
. /etc/harness.conf

OPS=${EXITS_OPS:-200}
KINDS=$(echo "${EXITS_KINDS:-resched,single,many}" | tr ',' ' ')
n=$(nproc)
if [ -n "${EXITS_COUNTS:-}" ]; then
	counts=$(echo "$EXITS_COUNTS" | tr ',' ' ')
else
	counts=$(seq 1 $((n - 1)))
fi
K=/sys/kernel/ipi_steer
# Background allowance per row: the guest's own IPIs during a row.
SLACK=$((OPS / 50 + 2))
ktap_header
traffic_load
[ "${NESTED:-0}" = 1 ] || { ktap_skip "not nested: no host counters"; ktap_finish; }

TABLE=/tmp/exits.table
: >$TABLE
stat() { sed -n "s/^$1 //p" $K/stats 2>/dev/null; }

# measure LABEL KIND K: one row; appends "label kind k icr hc exits" to $TABLE.
measure() {
	a=$(l1_counters) || { ktap_fail "$1 $2 k=$3: no answer from L1"; return; }
	s0=$(stat kernel_shorthand)
	r=$(traffic "$2" "$OPS" "$(targets_of "$3")")
	b=$(l1_counters)
	s1=$(stat kernel_shorthand)
	icr=$(($(counter icr_writes $b) - $(counter icr_writes $a)))
	hc=$(($(counter hypercalls $b) - $(counter hypercalls $a)))
	ex=$(($(counter exits $b) - $(counter exits $a)))
	sh=$((${s1:-0} - ${s0:-0}))
	echo "$1 $2 $3 $icr $hc $ex $sh" >>$TABLE
	if [ "$(field lost "$r")" = 0 ] && [ "$(field handled "$r")" = "$(field sent "$r")" ]; then
		ktap_ok "$1 $2 k=$3: icr=$icr hc=$hc exits=$ex"
	else
		ktap_fail "$1 $2 k=$3: $r"
	fi
}

rows() {
	for kind in $KINDS; do
		for k in $counts; do
			measure "$1" "$kind" "$k"
		done
	done
}

rows stock
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
modes=$(tr -d '[]' <$K/mode)
for m in $modes; do
	echo "$m" >$K/mode
	rows "$m"
done
echo auto >$K/mode
ktap_check "rmmod ipi_steer" rmmod ipi_steer

# Table: per operation, sender-side exits = ICR writes + hypercalls.
echo "# exits per operation, $OPS operations per row, $n vCPUs"
echo "# | kind | k | $(for l in stock $modes; do printf '%s (icr+hc) | ' "$l"; done)"
echo "# |---|---|$(for l in stock $modes; do printf -- '---|'; done)"
for kind in $KINDS; do
	for k in $counts; do
		line="| $kind | $k |"
		for l in stock $modes; do
			line="$line $(awk -v l=$l -v kd=$kind -v k=$k -v ops=$OPS \
				'$1 == l && $2 == kd && $3 == k {
					printf "%.2f (%.2f+%.2f)", ($4 + $5) / ops, $4 / ops, $5 / ops }' $TABLE) |"
		done
		echo "# $line"
	done
done

# Checks: auto at the minimum of the forced transports; stock never better.
for kind in $KINDS; do
	for k in $counts; do
		tot() { awk -v l=$1 -v kd=$kind -v k=$k '$1 == l && $2 == kd && $3 == k { print $4 + $5 }' $TABLE; }
		auto=$(tot auto) stock=$(tot stock) min=
		for m in $modes; do
			[ "$m" = auto ] && continue
			v=$(tot "$m")
			[ -z "$min" ] || [ "$v" -lt "$min" ] && min=$v
		done
		if [ -n "$min" ]; then
			ktap_check "$kind k=$k: auto ($auto) at the minimum of the forced modes ($min)" \
				test "$auto" -le $((min + SLACK))
		fi
		ktap_check "$kind k=$k: kernel's own ($stock) not better than auto ($auto)" \
			test "$auto" -le $((stock + SLACK))
	done
done
ktap_finish
