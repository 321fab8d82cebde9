#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Round trip of an IPI through ipi_steer against the kernel's own path for
# the same transport, in the same run: a call-function-single IPI to one
# busy target, waiting for its handler (one x2APIC ICR write either way),
# and, where the host offers PV_SEND_IPI, a call-function IPI to two busy
# targets (one KVM_HC_SEND_IPI either way; needs 4 or more vCPUs, since the
# kernel sends "all but self" by shorthand).  Each round measures the
# kernel (module unloaded) and ipi_steer (loaded, the transport forced), in
# alternating order, so that drift and warm-up hit both alike; each round's ratio
# ipi_steer / kernel is printed, then the median.  Every IPI must be
# delivered; the ratio is reported, not asserted: it is a timing, and under
# emulation a noisy one.
. /tests/ktap.sh
. /tests/traffic.sh

ROUNDS=${RT_ROUNDS:-7}
OPS=${RT_OPS:-500}
n=$(nproc)
K=/sys/kernel/ipi_steer
ktap_header
traffic_load
[ "$n" -ge 2 ] || { ktap_skip "needs 2 vCPUs"; ktap_finish; }

# Keep the targets busy: an idle target still polling needs no IPI at all.
busy=
for c in $(seq 1 $((n - 1))); do
	taskset -c "$c" sh -c 'while :; do :; done' &
	busy="$busy $!"
done
trap 'kill $busy 2>/dev/null' EXIT

# sample WHO KIND TARGETS: cycles of OPS operations (0, and the result
# line in $R.lost, if an IPI was not handled).
sample() {
	r=$(traffic "$2" "$OPS" "$3")
	if [ "$(field lost "$r")" = 0 ] && [ "$(field handled "$r")" = "$(field sent "$r")" ]; then
		field cycles "$r"
	else
		echo "$1 $2 $3: $r" >>$R.lost
		echo 0
	fi
}

# Which comparisons this guest can make: "transport:kind:targets".
cases="x2apic:single:1"
insmod /lib/modules/ipi_steer.ko || { ktap_fail "insmod ipi_steer"; ktap_finish; }
if grep -qw hypercall $K/mode && [ "$n" -ge 4 ]; then
	cases="$cases hypercall:many:1-2"
fi
rmmod ipi_steer
# split CASE: sets t, kind and tg.
split() {
	t=${1%%:*} tg=${1##*:} kind=${1#*:}
	kind=${kind%%:*}
}

R=/tmp/roundtrip
: >$R
: >$R.lost
kernel_round() {
	for c in $cases; do
		split "$c"
		echo "kernel $t $i $(sample kernel "$kind" "$tg")" >>$R
	done
}
steer_round() {
	insmod /lib/modules/ipi_steer.ko || ktap_fail "insmod ipi_steer, round $i"
	for c in $cases; do
		split "$c"
		echo "$t" >$K/mode
		echo "ipi_steer $t $i $(sample "ipi_steer $t" "$kind" "$tg")" >>$R
	done
	rmmod ipi_steer || ktap_fail "rmmod ipi_steer, round $i"
}
# Odd rounds measure the kernel first, even rounds ipi_steer first.
i=1
while [ $i -le "$ROUNDS" ]; do
	if [ $((i % 2)) = 1 ]; then
		kernel_round
		steer_round
	else
		steer_round
		kernel_round
	fi
	i=$((i + 1))
done
sed 's/^/# lost: /' $R.lost
ktap_check "every IPI of every round handled" test ! -s $R.lost

for c in $cases; do
	split "$c"
	ratios=$(awk -v t="$t" '$2 == t { c[$1 " " $3] = $4 }
		END { for (k in c) if (k ~ /^kernel /) { split(k, p, " ");
			s = c["ipi_steer " p[2]]; if (c[k] > 0 && s > 0) printf "%.3f\n", s / c[k] } }' $R | sort -n)
	cnt=$(echo "$ratios" | grep -c .)
	med=$(echo "$ratios" | sed -n "$(((cnt + 1) / 2))p")
	kmed=$(awk -v t="$t" '$1 == "kernel" && $2 == t { print $4 }' $R | sort -n | sed -n "$(((cnt + 1) / 2))p")
	smed=$(awk -v t="$t" '$1 == "ipi_steer" && $2 == t { print $4 }' $R | sort -n | sed -n "$(((cnt + 1) / 2))p")
	echo "# round trip, $t ($kind IPI to $tg), $OPS operations x $ROUNDS rounds:" \
		"kernel $((${kmed:-0} / OPS)), ipi_steer $((${smed:-0} / OPS)) cycles per operation (medians)"
	echo "# round trip ratio $t: median $med; rounds: $(echo "$ratios" | tr '\n' ' ')"
	ktap_check "$t: a ratio from every round ($cnt of $ROUNDS)" test "$cnt" = "$ROUNDS"
done
ktap_finish
