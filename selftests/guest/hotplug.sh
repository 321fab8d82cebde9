#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# CPU hotplug while IPIs fly: with ipi_steer loaded, scftorture runs while
# CPUs 1..N-1 go offline and online in turn, HOTPLUG_CYCLES times each.
. /tests/ktap.sh
. /tests/scf.sh

CYCLES=${HOTPLUG_CYCLES:-5}
n=$(nproc)
ktap_header
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
ktap_check "scftorture starts" scf_start
done_cycles=0 bad=0
i=0
while [ $i -lt "$CYCLES" ]; do
	c=1
	while [ $c -lt "$n" ]; do
		f=/sys/devices/system/cpu/cpu$c/online
		echo 0 >$f || bad=$((bad + 1))
		[ "$(cat $f)" = 0 ] || bad=$((bad + 1))
		echo 1 >$f || bad=$((bad + 1))
		[ "$(cat $f)" = 1 ] || bad=$((bad + 1))
		done_cycles=$((done_cycles + 1))
		c=$((c + 1))
	done
	i=$((i + 1))
done
ktap_check "$done_cycles offline/online cycles, $bad failures" test "$bad" = 0
ktap_check "scftorture through hotplug: SUCCESS" scf_stop
echo "# $(grep -E '^(ipi_|offline_dropped)' /sys/kernel/ipi_steer/stats | tr '\n' ' ')"
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
