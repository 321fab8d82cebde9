# SPDX-License-Identifier: GPL-2.0
# Run the kernel's smp_call_function torture test (kernel/scftorture.c).
# Source after ktap.sh.

# scf_start [PARAMS...]: load scftorture (and its torture core).
scf_start() {
	grep -q '^torture ' /proc/modules || insmod /lib/modules/torture.ko || return 1
	dmesg -c >/dev/null
	insmod /lib/modules/scftorture.ko stat_interval=0 "$@"
}

# scf_stop: unload it and succeed only if it reported "End of test: SUCCESS";
# prints its final statistics line.
scf_stop() {
	rmmod scftorture || return 1
	dmesg | grep -E 'End of test' | tail -n 1 | sed 's/^.*scf_torture: */# /' | cut -c1-120
	dmesg | grep -q 'End of test: SUCCESS'
}
