#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make kvm-compare: the upstream KVM x86 selftests that matter around
# IPIs, APIC, hypercalls and nested SVM, run in L1 once on the host kernel
# without host-patches/ and once with them (and the series' own test),
# printed side by side.  Fails if a test that passes without the patches
# fails with them, or if the series' own test fails.

. "$(dirname "$0")/common.sh"

export KSFT_EXTRA="x86/cpuid_test x86/cr4_cpuid_sync_test x86/feature_msrs_test
x86/hwcr_msr_test x86/hyperv_clock x86/hyperv_cpuid x86/hyperv_extended_hypercalls
x86/hyperv_features x86/hyperv_svm_test x86/hyperv_tlb_flush x86/kvm_clock_test
x86/monitor_mwait_test x86/nested_close_kvm_test x86/platform_info_test
x86/set_boot_cpu_id x86/set_sregs_test x86/smm_test x86/state_test
x86/svm_vmcall_test x86/svm_int_ctl_test x86/svm_nested_shutdown_test
x86/sync_regs_test x86/userspace_io_test x86/userspace_msr_exit_test
x86/apic_bus_clock_test x86/xapic_tpr_test x86/xss_msr_test x86/tsc_msrs_test
x86/recalc_apic_map_test x86/triple_fault_event_test x86/max_vcpuid_cap_test
x86/ucna_injection_test x86/exit_on_emulation_failure_test x86/xcr0_cpuid_test
kvm_binary_stats_test guest_print_test irqfd_test"

# results LOG: "test ok|FAIL" per line, from the kvm_selftests TAP output.
# One line per test: its result in the last L1 boot of the log (an L1
# that reboots for its TSC rate runs the tests again; see vm.sh).
results() {
	sed -n -E 's/^(not )?ok [0-9]+ ([^ ]+).*/\2 \1/p' "$1" | while read -r t n; do
		if [ -z "$n" ]; then echo "$t ok"; else echo "$t FAIL"; fi
	done | awk '{ r[$1] = $2 } END { for (t in r) print t, r[t] }' | sort
}

for p in none series; do
	log "L1 with host patches: $p"
	# The judgement is below; the run itself fails on the tests that fail
	# on both kernels.
	IPI_STEER_L1_PATCHES=$p "$TOP/scripts/vm.sh" --mode nested --name "kvm-compare-$p" \
		--host-test kvm_selftests --env KSFT_TIMEOUT=120 --timeout 3600 >/dev/null 2>&1 || true
	[ -s "$TOP/build/logs/kvm-compare-$p.log" ] || die "no log from the run with host patches: $p"
	results "$TOP/build/logs/kvm-compare-$p.log" >"$TOP/build/logs/kvm-compare-$p.results"
done

echo "| test | without host patches | with host patches |"
echo "|---|---|---|"
join -a 1 -a 2 -e - -o 0,1.2,2.2 "$TOP/build/logs/kvm-compare-none.results" \
	"$TOP/build/logs/kvm-compare-series.results" | awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
bad=$(join -e - -o 0,1.2,2.2 "$TOP/build/logs/kvm-compare-none.results" \
	"$TOP/build/logs/kvm-compare-series.results" | awk '$2 == "ok" && $3 != "ok" { print $1 }')
own=$(awk '$1 == "x86/ipi_accel_info_test" { print $2 }' "$TOP/build/logs/kvm-compare-series.results")
n0=$(grep -c ' ok$' "$TOP/build/logs/kvm-compare-none.results")
n1=$(grep -c ' ok$' "$TOP/build/logs/kvm-compare-series.results")
echo
echo "kvm-compare: $n0 pass without the host patches, $n1 with them; ipi_accel_info_test: ${own:-missing}"
[ -z "$bad" ] || die "passing without the host patches, failing with them: $bad"
[ "$own" = ok ] || die "the series' own test did not pass"
