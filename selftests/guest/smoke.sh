#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ipi_steer loads, reports the features this guest has, and unloads.
. /tests/ktap.sh
. /etc/harness.conf

ktap_plan 5
dmesg -c >/dev/null
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
ktap_check "listed in /proc/modules" grep -q '^ipi_steer ' /proc/modules
line=$(dmesg | grep 'ipi_steer: loaded; features:')
echo "# $line"
if [ "${NESTED:-0}" = 1 ]; then
	# L2 under KVM: the KVM signature and PV IPIs are visible.
	ktap_check "features: kvm, pv_send_ipi, x2apic under KVM" \
		sh -c "echo '$line' | grep -q ' kvm pv_send_ipi.* x2apic'"
else
	# TCG: x2APIC (interrupt remapping) but no KVM.
	ktap_check "features: x2apic, no kvm under TCG" \
		sh -c "echo '$line' | grep -q ' x2apic' && ! echo '$line' | grep -q ' kvm'"
fi
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_check "unloaded" sh -c "dmesg | grep -q 'ipi_steer: unloaded' && ! grep -q '^ipi_steer ' /proc/modules"
ktap_finish
