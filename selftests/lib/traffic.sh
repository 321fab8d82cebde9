# SPDX-License-Identifier: GPL-2.0
# Drive the ipi_traffic test module.  Source after ktap.sh.

TRAFFIC=/sys/kernel/debug/ipi_traffic/run

traffic_load() {
	grep -q '^ipi_traffic ' /proc/modules || insmod /lib/modules/ipi_traffic.ko
}

# traffic KIND OPS CPULIST: run and print the result line
# (kind=.. ops=.. targets=.. sent=.. handled=.. lost=.. cycles=..).
traffic() {
	echo "$1 $2 $3" >"$TRAFFIC" || return 1
	cat "$TRAFFIC"
}

# field NAME LINE: the value of NAME=value in a result line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# The first K online CPUs after CPU 0, as a cpulist ("1-K").
targets_of() {
	if [ "$1" = 1 ]; then echo 1; else echo "1-$1"; fi
}
