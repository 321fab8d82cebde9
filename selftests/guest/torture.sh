#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scftorture (the kernel's smp_call_function torture test) for
# TORTURE_SECS seconds with the kernel's own paths and with ipi_steer in
# each mode it offers.  Lost IPIs show up as scftorture failures or CSD-lock
# timeouts, locking bugs as lockdep reports: the harness fails on both.
. /tests/ktap.sh
. /tests/scf.sh
. /etc/harness.conf

SECS=${TORTURE_SECS:-15}
K=/sys/kernel/ipi_steer
ktap_header

ktap_check "kernel: scftorture starts" scf_start
ktap_sleep "$SECS"
ktap_check "kernel: scftorture ${SECS}s: SUCCESS" scf_stop

ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
for m in $(tr -d '[]' <$K/mode); do
	echo "$m" >$K/mode
	echo 1 >$K/reset
	ktap_check "$m: scftorture starts" scf_start
	ktap_sleep "$SECS"
	ktap_check "$m: scftorture ${SECS}s: SUCCESS" scf_stop
	echo "# $m: $(grep -E '^(x2apic_icr_writes|hypercalls|fallback_icr|fallback_kernel|kernel_shorthand) ' $K/stats | tr '\n' ' ')"
done
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
