#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Exits per IPI, measured by the nested host: for the kernel's own paths
# (module not loaded) and for ipi_steer in each mode, each IPI kind and each
# target count (EXITS_KINDS, EXITS_COUNTS: comma-separated), send EXITS_OPS operations and read L1's counters before and
# after.  Sender-side exits are vCPU 0's x2APIC ICR writes plus its
# KVM_HC_SEND_IPI hypercalls (ipi_traffic sends from CPU 0) with the
# vector of the kind measured, counted by per-vCPU, per-ICR-value
# histograms of KVM's trace events in L1; exact, apart from CPU 0's own
# IPIs of the same vector during a row.  "exits" is all of vCPU 0's exits
# (including timer and halt exits).  Prints a markdown table; checks that no IPI was lost,
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
# Background allowance per row: CPU 0's own IPIs during a row (scheduler
# kicks to the busy targets, timers) measured at 0.1-0.25 per operation.
# A wrong policy costs a whole exit per operation, far above this.
SLACK=$((OPS / 4 + 2))
ktap_header
traffic_load
# For scripts/exits-predict.sh: the model needs the APIC ids in CPU order.
echo "# APIC ids: $(sed -n 's/^apicid[^:]*: //p' /proc/cpuinfo | tr '\n' ' ')"
[ "${NESTED:-0}" = 1 ] || { ktap_skip "not nested: no host counters"; ktap_finish; }

TABLE=/tmp/exits.table
: >$TABLE
stat() { sed -n "s/^$1 //p" $K/stats 2>/dev/null; }

# The vectors an ipi_traffic kind sends: only the sender's IPIs with those
# vectors count, so its other IPIs (reschedule kicks to the busy targets)
# do not blur the call-function rows.  The kernel sends a call-function
# IPI with one target by the single vector, so both count.
vectors_of() {
	case $1 in
	resched) echo 253 ;;
	*) echo 251 252 ;;
	esac
}
# vsum NAME WORDS...: the sum of NAME_<v> over the vectors in $vecs.
vsum() {
	n=$1 s=0
	shift
	for v in $vecs; do s=$((s + $(counter "${n}_$v" "$@"))); done
	echo $s
}

# measure LABEL KIND K: one row; appends "label kind k icr hc exits" to $TABLE.
# Between the two readings of L1's counters the shell forks nothing: a
# fork and exit in the guest can make CPU 0 send IPIs of the vectors
# counted (TLB flushes, wakeups), which would be charged to the row.  A
# short warm-up of the same kind and targets comes first, so that work
# left over from a mode switch or module load is not either.
measure() {
	tg=$(targets_of "$3")
	vecs=$(vectors_of "$2")
	traffic "$2" $((OPS / 10 + 1)) "$tg" >/dev/null
	s0=$(stat kernel_shorthand)
	l1_counters >/tmp/exits.a || { ktap_fail "$1 $2 k=$3: no answer from L1"; return; }
	echo "$2 $OPS $tg" >"$TRAFFIC" || { ktap_fail "$1 $2 k=$3: ipi_traffic refused the run"; return; }
	l1_counters >/tmp/exits.b
	r=$(cat "$TRAFFIC")
	s1=$(stat kernel_shorthand)
	read -r a </tmp/exits.a
	read -r b </tmp/exits.b
	icr=$(($(vsum icr_writes $b) - $(vsum icr_writes $a)))
	hc=$(($(vsum sender_hypercalls $b) - $(vsum sender_hypercalls $a)))
	ex=$(($(counter sender_exits $b) - $(counter sender_exits $a)))
	sh=$((${s1:-0} - ${s0:-0}))
	cyc=$(field cycles "$r")
	echo "$1 $2 $3 $icr $hc $ex $sh ${cyc:-0}" >>$TABLE
	# Without IPI acceleration in the host every operation costs at least
	# one sender exit: fewer means the counters are not counting.
	ktap_check "$1 $2 k=$3: at least one sender exit per operation ($((icr + hc)) for $OPS)" \
		test $((icr + hc)) -ge "$OPS"
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

# Keep every target busy: an idle CPU that is still polling needs no
# call-function IPI at all, which would make rows depend on timing.
busy=
for c in $(seq 1 $((n - 1))); do
	taskset -c "$c" sh -c 'while :; do :; done' &
	busy="$busy $!"
done
trap 'kill $busy 2>/dev/null' EXIT

rows stock
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
modes=$(tr -d '[]' <$K/mode)
echo "# calibration at load:"
sed 's/^/#   /' $K/calibration
# The table is for the published cost model (one exit dominates every
# transport's cost); calibrated costs in an emulated guest measure the
# emulator.  Use the published Skylake figures for every mode.
for c in "x2apic 4238 0" "hypercall 4088 150"; do
	echo "$c" >$K/costs 2>/dev/null
done
echo "# costs: $(tr '\n' ';' <$K/costs)"
for m in $modes; do
	echo "$m" >$K/mode
	rows "$m"
done
echo auto >$K/mode
ktap_check "rmmod ipi_steer" rmmod ipi_steer
kill $busy 2>/dev/null

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

# The raw rows, for scripts/bench.sh: label kind k icr hc exits
# shorthand cycles, totals over OPS operations.
echo "# ops: $OPS"
sed 's/^/# row: /' $TABLE

# Round trip (call-function-single waits for the handler) through
# ipi_steer's x2APIC path against the kernel's own x2APIC path, same run.
# Under emulation only the ratio means anything.
rt() { awk -v l=$1 '$1 == l && $2 == "single" && $3 == 1 { print $8 }' $TABLE; }
if [ -n "$(rt x2apic)" ] && [ -n "$(rt stock)" ]; then
	echo "# round trip, single IPI to 1 target, cycles per op: kernel $(($(rt stock) / OPS)), ipi_steer x2apic $(($(rt x2apic) / OPS)), ratio $(awk -v a="$(rt x2apic)" -v b="$(rt stock)" 'BEGIN { printf "%.3f", a / b }')"
fi

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
