#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# LOAD_CYCLES insmod/rmmod cycles of ipi_steer (each in a random mode) while
# scftorture and an ipi_traffic loop send IPIs on every CPU; every IPI of
# the loop must be accounted for (sent = handled) and scftorture must pass.
. /tests/ktap.sh
. /tests/traffic.sh
. /tests/scf.sh

CYCLES=${LOAD_CYCLES:-50}
n=$(nproc)
K=/sys/kernel/ipi_steer
ktap_header
traffic_load
ktap_check "scftorture starts" scf_start

# Background traffic with accounting: many-, single- and resched IPIs to
# every other CPU, results appended to a file.
: >/tmp/traffic.out
(
	while [ ! -e /tmp/stop ]; do
		for kind in many single resched; do
			traffic "$kind" 20 "1-$((n - 1))" >>/tmp/traffic.out 2>&1 ||
				echo "write failed" >>/tmp/traffic.out
		done
	done
) &
bg=$!

ok=0 fail=0 i=0
while [ $i -lt "$CYCLES" ]; do
	if insmod /lib/modules/ipi_steer.ko; then
		modes=$(tr -d '[]' <$K/mode)
		set -- $modes
		pick=$(( $(od -An -N1 -tu1 /dev/urandom) % $# + 1 ))
		eval "m=\${$pick}"
		echo "$m" >$K/mode
		rmmod ipi_steer && ok=$((ok + 1)) || fail=$((fail + 1))
	else
		fail=$((fail + 1))
	fi
	i=$((i + 1))
done
touch /tmp/stop
wait $bg
ktap_check "$ok insmod/rmmod cycles, $fail failures" test "$fail" = 0

runs=$(grep -c '^kind=' /tmp/traffic.out)
bad=$(grep -v '^kind=' /tmp/traffic.out | wc -l)
lost=$(awk '{ for (i = 1; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
	if (v["sent"] != v["handled"] || v["lost"] != 0) n++ } END { print n + 0 }' /tmp/traffic.out)
sent=$(awk '{ for (i = 1; i <= NF; i++) { split($i, p, "="); if (p[1] == "sent") s += p[2] } } END { print s + 0 }' /tmp/traffic.out)
echo "# traffic: $runs runs, $sent IPIs sent, $lost runs with a lost IPI, $bad errors"
ktap_check "traffic ran ($runs runs, $sent IPIs)" test "$runs" -gt 0
ktap_check "every traffic IPI handled ($lost runs with losses, $bad errors)" \
	test "$lost" = 0 -a "$bad" = 0
ktap_check "scftorture across load/unload: SUCCESS" scf_stop
ktap_finish
