#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suite runs when the module loads; it must report
# every case passed.  With the host patches applied to the test kernel,
# their suite (kvm_ipi_accel_info, the Rust logic of KVM_HC_IPI_ACCEL_INFO,
# including the VMX and AVIC branches no CPU here can run) ran at boot.
. /tests/ktap.sh

ktap_header
if [ "${HOST_PATCHES:-0}" = 1 ]; then
	r=/sys/kernel/debug/kunit/kvm_ipi_accel_info/results
	p=0 f=1
	if [ -r $r ]; then
		grep -E '^ *(not )?ok [0-9]+ ' $r | sed 's/^ */# kvm_ipi_accel_info: /'
		p=$(grep -cE '^ +ok [0-9]+ ' $r)
		f=$(grep -cE '^ *not ok [0-9]+ ' $r)
	fi
	ktap_check "KUnit suite kvm_ipi_accel_info ran at boot ($p cases passed)" test "$p" -ge 9
	ktap_check "KUnit suite kvm_ipi_accel_info: no failures ($f)" test "$f" = 0
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
