// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of ipi_steer.  Only what Rust cannot do itself lives here.
 */
#include <linux/bits.h>
#include <linux/kvm_para.h>
#include <asm/apic.h>
#include <asm/cpufeature.h>
#include <asm/cpuid/api.h>
#include <asm/processor.h>

#include "glue.h"

/*
 * ipi_steer_glue_features - what the guest can see of its platform
 *
 * Context: any; reads CPUID-derived state cached at boot.
 * Return: a mask of IPI_STEER_F_* bits.
 */
u32 ipi_steer_glue_features(void)
{
	u32 base = 0, kvm = 0, f = 0;

	/* kvm_arch_para_features() is not exported: read the leaf directly. */
	if (boot_cpu_has(X86_FEATURE_HYPERVISOR))
		base = cpuid_base_hypervisor(KVM_SIGNATURE, 0);
	if (base) {
		f |= IPI_STEER_F_KVM;
		kvm = cpuid_eax(base | KVM_CPUID_FEATURES);
		if (kvm & BIT(KVM_FEATURE_PV_SEND_IPI))
			f |= IPI_STEER_F_PV_SEND_IPI;
		if (kvm & BIT(KVM_FEATURE_PV_SCHED_YIELD))
			f |= IPI_STEER_F_PV_SCHED_YIELD;
	}
	if (x2apic_mode)
		f |= IPI_STEER_F_X2APIC;
	if (cpu_feature_enabled(X86_FEATURE_TDX_GUEST))
		f |= IPI_STEER_F_TDX_GUEST;
	if (boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON)
		f |= IPI_STEER_F_VENDOR_AMD;
	return f;
}
