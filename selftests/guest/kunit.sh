#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suite runs when the module loads; it must report
# every case passed.  With the host patches applied to the test kernel,
# their suites ran at boot: kvm_ipi_accel_info (the Rust logic of
# KVM_HC_IPI_ACCEL_INFO, including the VMX and AVIC branches no CPU here
# can run) and kvm_posted_ipi (the Rust logic of guest posted IPIs, a
# VMX-only feature).
. /tests/ktap.sh

# host_suite NAME MIN: the suite ran at boot with at least MIN cases
# passed and none failed.
host_suite() {
	r=/sys/kernel/debug/kunit/$1/results
	p=0 f=1
	if [ -r "$r" ]; then
		grep -E '^ *(not )?ok [0-9]+ ' "$r" | sed "s/^ */# $1: /"
		p=$(grep -cE '^ +ok [0-9]+ ' "$r")
		f=$(grep -cE '^ *not ok [0-9]+ ' "$r")
	fi
	ktap_check "KUnit suite $1 ran at boot ($p cases passed)" test "$p" -ge "$2"
	ktap_check "KUnit suite $1: no failures ($f)" test "$f" = 0
}

ktap_header
if [ "${HOST_PATCHES:-0}" = 1 ]; then
	host_suite kvm_ipi_accel_info 9
	host_suite kvm_posted_ipi 14
fi
dmesg -c >/dev/null
ktap_check "insmod ipi_steer (with its KUnit suite)" insmod /lib/modules/ipi_steer.ko
dmesg | grep -E '^\[[ 0-9.]+\] +(# |ok |not ok ).*' | sed 's/^\[[^]]*\] */# /' | grep -i -E 'ipi_steer|ok [0-9]' | head -20
res=$(dmesg | grep -o '# ipi_steer: pass:[0-9]* fail:[0-9]* skip:[0-9]* total:[0-9]*' | tail -n1)
echo "# $res"
pass=$(echo "$res" | sed -n 's/.*pass:\([0-9]*\).*/\1/p')
fail=$(echo "$res" | sed -n 's/.*fail:\([0-9]*\).*/\1/p')
ktap_check "KUnit suite ipi_steer ran (${pass:-0} passed)" test "${pass:-0}" -gt 0
ktap_check "KUnit suite ipi_steer: no failures (${fail:-?})" test "${fail:-1}" = 0
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
