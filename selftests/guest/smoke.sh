#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ipi_steer loads, reports the features this guest has, and unloads.
# No host here offers guest posted IPIs (a VMX-only host feature, opted in
# by the VMM): the module must say why, and never list the transport.
. /tests/ktap.sh
. /etc/harness.conf

# MSR_KVM_POSTED_IPI writes L1's KVM saw (nested only): msr_delta NAME
# FROM TO, the change of posted_msr_NAME between two l1_counters answers.
msr_delta() {
	echo $(($(counter "posted_msr_$1" $3) - $(counter "posted_msr_$1" $2)))
}
cpus=$(grep -c '^processor' /proc/cpuinfo)
if [ "${NESTED:-0}" = 1 ]; then
	ktap_plan 10
else
	ktap_plan 8
fi
dmesg -c >/dev/null
[ "${NESTED:-0}" = 1 ] && c0=$(l1_counters)
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
[ "${NESTED:-0}" = 1 ] && c1=$(l1_counters)
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
posted=$(dmesg | sed -n 's/.*ipi_steer: posted IPIs: //p')
echo "# posted IPIs: $posted"
if [ "${NESTED:-0}" = 1 ] && [ "${HOST_IGNORES_MSRS:-0}" = 1 ]; then
	# L1 runs with kvm.ignore_msrs (host test ignore_msrs): the writes
	# succeed, but nobody fills the header.
	ktap_check "posted IPIs: accepted, header empty, withdrawn" \
		test "$posted" = "not offered: header not filled by the host (BadMagic(0))"
	# And L1's KVM saw it: a region written on every CPU, then 0.
	d="set $(msr_delta set "$c0" "$c1") clear $(msr_delta clear "$c0" "$c1")"
	d="$d refused $(($(msr_delta set_gp "$c0" "$c1") + $(msr_delta clear_gp "$c0" "$c1")))"
	ktap_check "L1 saw the region set and withdrawn on all $cpus CPUs ($d)" \
		test "$d" = "set $cpus clear $cpus refused 0"
elif [ "${NESTED:-0}" = 1 ]; then
	# KVM without the VMM's opt-in: every online CPU's MSR write #GPs.
	ktap_check "posted IPIs: refused by KVM on all $cpus CPUs" \
		test "$posted" = "not offered: MSR_KVM_POSTED_IPI refused on $cpus CPUs"
	# L1's KVM refused a region on every CPU and took none; the
	# module's withdrawal still wrote 0 on every CPU.
	d="set $(msr_delta set "$c0" "$c1") refused $(msr_delta set_gp "$c0" "$c1")"
	d="$d clear $(($(msr_delta clear "$c0" "$c1") + $(msr_delta clear_gp "$c0" "$c1")))"
	ktap_check "L1 refused the region on all $cpus CPUs ($d)" \
		test "$d" = "set 0 refused $cpus clear $cpus"
else
	ktap_check "posted IPIs: not tried without KVM" \
		sh -c "echo '$posted' | grep -q '^not offered: not tried'"
fi
K=/sys/kernel/ipi_steer
ktap_check "features: posted_ipi not offered" grep -q '^posted_ipi: not offered (' $K/features
ktap_check "posted in neither transports nor mode" \
	sh -c "! grep -q '^transports:.* posted' $K/features && ! grep -qw posted $K/mode"
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_check "unloaded" sh -c "dmesg | grep -q 'ipi_steer: unloaded' && ! grep -q '^ipi_steer ' /proc/modules"
if [ "${NESTED:-0}" = 1 ]; then
	# Nothing was registered after load, so unload writes nothing.
	c2=$(l1_counters)
	d=0
	for k in set clear set_gp clear_gp; do d=$((d + $(msr_delta $k "$c1" "$c2"))); done
	ktap_check "no MSR_KVM_POSTED_IPI write at unload ($d)" test "$d" = 0
fi
ktap_finish
