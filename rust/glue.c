// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of ipi_steer.  Only what Rust cannot do itself lives here: static
 * inline helpers and alternatives of the x86 headers, per-CPU data,
 * stop_machine(), MSR writes, CPU hotplug states and the sysfs kobject.
 */
#include <linux/bits.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/kobject.h>
#include <linux/kvm_para.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/stop_machine.h>
#include <linux/sysfs.h>
#include <asm/apic.h>
#include <asm/barrier.h>
#include <asm/cpufeature.h>
#include <asm/cpuid/api.h>
#include <asm/io.h>
#include <asm/irq_vectors.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/smp.h>
#include <asm/tdx.h>
#include <asm/tsc.h>

#include "glue.h"

static_assert(IPI_STEER_RESCHEDULE_VECTOR == RESCHEDULE_VECTOR);
static_assert(IPI_STEER_CALL_FUNCTION_VECTOR == CALL_FUNCTION_VECTOR);
static_assert(IPI_STEER_CALL_FUNCTION_SINGLE_VECTOR == CALL_FUNCTION_SINGLE_VECTOR);

/*
 * A second copy of ipi_steer (under another name) would fail to load on
 * this duplicate export, before it could touch smp_ops.
 */
const char ipi_steer_instance[] = "ipi_steer";
EXPORT_SYMBOL_GPL(ipi_steer_instance);

/**
 * ipi_steer_glue_features - what the guest can see of its platform
 *
 * Context: any; reads CPUID and state cached at boot.
 * Return: a mask of IPI_STEER_F_* bits.
 */
u32 ipi_steer_glue_features(void)
{
	u32 base = 0, kvm, f = 0;

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

/**
 * ipi_steer_glue_nr_cpu_ids - number of possible CPU ids
 *
 * Context: any.
 */
unsigned int ipi_steer_glue_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

/**
 * ipi_steer_glue_get_ops - the SMP IPI paths installed now
 * @ops: receives the three pointers
 *
 * Context: any.
 */
void ipi_steer_glue_get_ops(struct ipi_steer_smp_ipi_ops *ops)
{
	ops->smp_send_reschedule = READ_ONCE(smp_ops.smp_send_reschedule);
	ops->send_call_func_single_ipi = READ_ONCE(smp_ops.send_call_func_single_ipi);
	ops->send_call_func_ipi = READ_ONCE(smp_ops.send_call_func_ipi);
}

struct ipi_steer_swap {
	const struct ipi_steer_smp_ipi_ops *install;
	const struct ipi_steer_smp_ipi_ops *expect;
	struct ipi_steer_smp_ipi_ops *saved;
};

static int ipi_steer_swap_fn(void *data)
{
	struct ipi_steer_swap *s = data;

	if (s->expect &&
	    (smp_ops.smp_send_reschedule != s->expect->smp_send_reschedule ||
	     smp_ops.send_call_func_single_ipi != s->expect->send_call_func_single_ipi ||
	     smp_ops.send_call_func_ipi != s->expect->send_call_func_ipi))
		return -EBUSY;
	s->saved->smp_send_reschedule = smp_ops.smp_send_reschedule;
	s->saved->send_call_func_single_ipi = smp_ops.send_call_func_single_ipi;
	s->saved->send_call_func_ipi = smp_ops.send_call_func_ipi;
	smp_ops.smp_send_reschedule = s->install->smp_send_reschedule;
	smp_ops.send_call_func_single_ipi = s->install->send_call_func_single_ipi;
	smp_ops.send_call_func_ipi = s->install->send_call_func_ipi;
	return 0;
}

/**
 * ipi_steer_glue_swap_ops - replace the SMP IPI paths of smp_ops
 * @install: the pointers to install
 * @expect: if not NULL, the pointers that must be installed now
 * @saved: receives the pointers that were installed
 *
 * Runs under stop_machine(), so no CPU is inside an IPI path while the
 * pointers change.  Callers that remove code must still wait for CPUs that
 * fetched an old pointer: see ipi_steer_glue_synchronize().
 *
 * Context: process context, may sleep.
 * Return: 0, or -EBUSY if the current pointers are not @expect.
 */
int ipi_steer_glue_swap_ops(const struct ipi_steer_smp_ipi_ops *install,
			    const struct ipi_steer_smp_ipi_ops *expect,
			    struct ipi_steer_smp_ipi_ops *saved)
{
	struct ipi_steer_swap s = {
		.install = install, .expect = expect, .saved = saved,
	};

	return stop_machine(ipi_steer_swap_fn, &s, NULL);
}

/**
 * ipi_steer_glue_synchronize - wait until no CPU can run an old IPI path
 *
 * Every caller of the smp_ops IPI paths runs with preemption or interrupts
 * disabled, so one RCU grace period covers all of them.
 *
 * Context: process context, may sleep.
 */
void ipi_steer_glue_synchronize(void)
{
	synchronize_rcu();
}

/**
 * ipi_steer_glue_irq_save - disable local interrupts
 *
 * Context: any.
 * Return: the flags for ipi_steer_glue_irq_restore().
 */
unsigned long ipi_steer_glue_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

/**
 * ipi_steer_glue_irq_restore - restore local interrupts
 * @flags: what ipi_steer_glue_irq_save() returned
 *
 * Context: any.
 */
void ipi_steer_glue_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

/**
 * ipi_steer_glue_this_cpu - the current CPU
 *
 * Context: preemption or interrupts disabled.
 */
unsigned int ipi_steer_glue_this_cpu(void)
{
	return smp_processor_id();
}

/**
 * ipi_steer_glue_cpu_online - whether @cpu is online
 * @cpu: CPU number
 *
 * Context: any.
 */
bool ipi_steer_glue_cpu_online(int cpu)
{
	return cpu_online(cpu);
}

/**
 * ipi_steer_glue_warn_offline - the kernel's warning for a reschedule IPI
 *	to an offline CPU (native_smp_send_reschedule())
 * @cpu: CPU number
 *
 * Context: any.
 */
void ipi_steer_glue_warn_offline(int cpu)
{
	WARN(1, "sched: Unexpected reschedule of offline CPU#%d!\n", cpu);
}

/**
 * ipi_steer_glue_apicid - the APIC id of @cpu
 * @cpu: CPU number
 *
 * Context: any.
 */
u32 ipi_steer_glue_apicid(int cpu)
{
	return per_cpu(x86_cpu_to_apicid, cpu);
}

/**
 * ipi_steer_glue_other_online_apicids - APIC ids of online CPUs but this one
 * @ids: receives up to @max ids, in CPU order
 * @max: room in @ids
 *
 * Context: process context (for calibration); the CPU may change afterwards,
 * which only means one timed IPI may go to the sender itself.
 * Return: the number of ids written.
 */
unsigned int ipi_steer_glue_other_online_apicids(u32 *ids, unsigned int max)
{
	unsigned int cpu, self = raw_smp_processor_id(), n = 0;

	for_each_online_cpu(cpu) {
		if (cpu == self)
			continue;
		if (n == max)
			break;
		ids[n++] = per_cpu(x86_cpu_to_apicid, cpu);
	}
	return n;
}

/**
 * ipi_steer_glue_cycles - the time stamp counter, for calibration
 *
 * Context: any.
 */
u64 ipi_steer_glue_cycles(void)
{
	return rdtsc_ordered();
}

/**
 * ipi_steer_glue_mask_apicids - the APIC ids of the CPUs in @mask
 * @mask: target CPUs
 * @ids: receives the APIC ids, in CPU order
 * @max: room in @ids
 * @all_but_self: set if @mask plus this CPU is every online CPU and this
 *	CPU is not in @mask (the case the kernel sends by shorthand)
 *
 * Context: preemption disabled.
 * Return: the number of ids written; more than @max targets writes none and
 * returns @max + 1.
 */
unsigned int ipi_steer_glue_mask_apicids(const struct cpumask *mask, u32 *ids,
					 unsigned int max, bool *all_but_self)
{
	unsigned int cpu, self = smp_processor_id(), n = 0;

	*all_but_self = !cpumask_test_cpu(self, mask) &&
			cpumask_or_equal(mask, cpumask_of(self), cpu_online_mask);
	if (cpumask_weight(mask) > max)
		return max + 1;
	for_each_cpu(cpu, mask)
		ids[n++] = per_cpu(x86_cpu_to_apicid, cpu);
	return n;
}

/**
 * ipi_steer_glue_x2apic_fence - order memory before x2APIC ICR writes
 *
 * x2APIC MSR writes are not serializing; the kernel fences once before a
 * batch of ICR writes (weak_wrmsr_fence()).
 *
 * Context: any.
 */
void ipi_steer_glue_x2apic_fence(void)
{
	weak_wrmsr_fence();
}

/**
 * ipi_steer_glue_x2apic_icr_write - write the x2APIC ICR
 * @icr: the full 64-bit ICR value (destination in bits 32-63)
 *
 * Context: interrupts disabled, after ipi_steer_glue_x2apic_fence().
 */
void ipi_steer_glue_x2apic_icr_write(u64 icr)
{
	native_x2apic_icr_write(lower_32_bits(icr), upper_32_bits(icr));
}

/**
 * ipi_steer_glue_kvm_send_ipi - KVM_HC_SEND_IPI
 * @bitmap_low: targets min..min+63
 * @bitmap_high: targets min+64..min+127
 * @min: lowest APIC id of the window
 * @icr: ICR low word (fixed delivery, vector)
 *
 * kvm_hypercall4() picks vmcall or vmmcall by alternatives.  In a TD it
 * calls tdx_kvm_hypercall() instead (arch/x86/include/asm/kvm_para.h in
 * 7.3), a TDVMCALL with r10 = KVM_HC_SEND_IPI that raises no #VE: this is
 * the multicast transport of TDX guests too.
 *
 * Context: interrupts disabled.
 * Return: the number of vCPUs delivered to, or a negative KVM error.
 */
long ipi_steer_glue_kvm_send_ipi(u64 bitmap_low, u64 bitmap_high, u32 min,
				 u32 icr)
{
	return kvm_hypercall4(KVM_HC_SEND_IPI, bitmap_low, bitmap_high, min, icr);
}

/**
 * ipi_steer_glue_kvm_hypercall0 - a KVM hypercall whose arguments are zero
 * @nr: hypercall number
 *
 * Used for KVM_HC_IPI_ACCEL_INFO, which kernels without the host patches do
 * not define: the number comes from Rust (rust/core/src/hint.rs).  Its four
 * argument registers are reserved and must be zero (kvm_hypercall0() leaves
 * them as they are).  A host that does not know @nr returns -KVM_ENOSYS.
 *
 * Context: any; only called when the KVM signature was found.
 * Return: the host's answer.
 */
long ipi_steer_glue_kvm_hypercall0(unsigned int nr)
{
	return kvm_hypercall4(nr, 0, 0, 0, 0);
}

/**
 * ipi_steer_glue_tdvmcall - a TDVMCALL with arguments in r10-r13
 * @r10: leaf (TDX_HYPERCALL_STANDARD for the GHCI standard calls)
 * @r11: sub-function (EXIT_REASON_MSR_WRITE for WRMSR)
 * @r12: first argument (the MSR index)
 * @r13: second argument (the value)
 *
 * The registers come from the Rust core's encoder (TdVmCall::wrmsr_icr()),
 * which builds the call the kernel's #VE handler issues after a trapped ICR
 * write (write_msr() in arch/x86/coco/tdx/tdx.c); issuing it directly skips
 * the #VE.  __tdx_hypercall() is not exported to modules, but
 * tdx_kvm_hypercall() is, and hands its arguments to __tdx_hypercall() in
 * r10-r14 unchanged: with r10 = 0 it is the same standard call (r14 = 0 is
 * not read by WRMSR).
 *
 * Context: interrupts disabled.
 * Return: the TDVMCALL status, 0 if the VMM did the request; -ENODEV outside
 * a TD or in a kernel without TDX guest support, -EINVAL if @r10 does not
 * fit.  Nothing was done unless it returns 0.
 */
long ipi_steer_glue_tdvmcall(u64 r10, u64 r11, u64 r12, u64 r13)
{
#ifdef CONFIG_INTEL_TDX_GUEST
	if (!cpu_feature_enabled(X86_FEATURE_TDX_GUEST))
		return -ENODEV;
	/* tdx_kvm_hypercall() takes the leaf as an unsigned int. */
	if (r10 > UINT_MAX)
		return -EINVAL;
	return tdx_kvm_hypercall(r10, r11, r12, r13, 0);
#else
	return -ENODEV;
#endif
}

/**
 * ipi_steer_glue_yield_to_preempted - KVM's directed yield after a
 *	call-function IPI (kvm_smp_send_call_func_ipi())
 * @mask: the targets just sent to
 *
 * Yields to the first target whose vCPU is preempted.  The kernel also skips
 * idle targets (idle_cpu() is not exported); a halted vCPU is not marked
 * preempted, so the difference is an idle vCPU that was polling.
 *
 * Context: preemption disabled.
 * Return: whether it yielded.
 */
bool ipi_steer_glue_yield_to_preempted(const struct cpumask *mask)
{
	int cpu;

	for_each_cpu(cpu, mask) {
		if (vcpu_is_preempted(cpu)) {
			kvm_hypercall1(KVM_HC_SCHED_YIELD,
				       per_cpu(x86_cpu_to_apicid, cpu));
			return true;
		}
	}
	return false;
}

/*
 * Guest posted IPIs (docs/ABI/kvm-posted-ipi): the region is registered with
 * MSR_KVM_POSTED_IPI by every CPU while it is online, and withdrawn by a CPU
 * going offline, at reboot and at unload, so that the host never writes the
 * region once it is freed or belongs to another kernel.  Whether to register,
 * and what the host answered, is decided in Rust (rust/posted_ipi.rs).
 */
#ifndef MSR_KVM_POSTED_IPI
#define MSR_KVM_POSTED_IPI	0x4b564d09
#endif

static u64 ipi_steer_posted_msr;
static atomic_t ipi_steer_posted_refused;
static int ipi_steer_posted_state;

/**
 * ipi_steer_glue_max_apicid - the largest APIC id of a possible CPU
 *
 * Context: any.
 */
u32 ipi_steer_glue_max_apicid(void)
{
	u32 id, max = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		id = per_cpu(x86_cpu_to_apicid, cpu);
		if (id != BAD_APICID && id > max)
			max = id;
	}
	return max;
}

/**
 * ipi_steer_glue_region_alloc - zeroed, physically contiguous pages
 * @size: bytes, a multiple of the page size
 * @gpa: receives the guest-physical address of the first byte
 *
 * Context: process context, may sleep.
 * Return: the kernel address of the pages, or NULL.
 */
void *ipi_steer_glue_region_alloc(size_t size, u64 *gpa)
{
	void *p = alloc_pages_exact(size, GFP_KERNEL | __GFP_ZERO);

	if (p)
		*gpa = virt_to_phys(p);
	return p;
}

/**
 * ipi_steer_glue_region_free - free what ipi_steer_glue_region_alloc() gave
 * @region: its kernel address
 * @size: the size it was allocated with
 *
 * Context: process context; no CPU may still have the region registered.
 */
void ipi_steer_glue_region_free(void *region, size_t size)
{
	free_pages_exact(region, size);
}

static int ipi_steer_posted_online(unsigned int cpu)
{
	/* A refusal leaves the CPU's slot unoffered: its IPIs fall back. */
	if (wrmsr_safe(MSR_KVM_POSTED_IPI, lower_32_bits(ipi_steer_posted_msr),
		       upper_32_bits(ipi_steer_posted_msr)))
		atomic_inc(&ipi_steer_posted_refused);
	return 0;
}

static int ipi_steer_posted_offline(unsigned int cpu)
{
	wrmsr_safe(MSR_KVM_POSTED_IPI, 0, 0);
	return 0;
}

static void ipi_steer_posted_withdraw_this_cpu(void *unused)
{
	wrmsr_safe(MSR_KVM_POSTED_IPI, 0, 0);
}

/* The host must not write the region into the next kernel (kexec). */
static int ipi_steer_posted_reboot(struct notifier_block *nb,
				   unsigned long code, void *unused)
{
	on_each_cpu(ipi_steer_posted_withdraw_this_cpu, NULL, 1);
	return NOTIFY_DONE;
}

static struct notifier_block ipi_steer_posted_reboot_nb = {
	.notifier_call = ipi_steer_posted_reboot,
};

/**
 * ipi_steer_glue_posted_register - register the region on every CPU
 * @msr: the value of MSR_KVM_POSTED_IPI that registers it
 *
 * Each online CPU writes @msr now, and each CPU that comes online later
 * writes it then; a CPU going offline writes 0.  On success the caller must
 * call ipi_steer_glue_posted_withdraw() before it frees the region.
 *
 * Context: process context, may sleep; not with the CPU hotplug lock held.
 * Return: the number of online CPUs whose write was refused (#GP), or a
 * negative errno if nothing was registered.
 */
int ipi_steer_glue_posted_register(u64 msr)
{
	int ret;

	ipi_steer_posted_msr = msr;
	atomic_set(&ipi_steer_posted_refused, 0);
	ret = register_reboot_notifier(&ipi_steer_posted_reboot_nb);
	if (ret)
		return ret;
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "x86/ipi_steer:posted",
				ipi_steer_posted_online,
				ipi_steer_posted_offline);
	if (ret < 0) {
		unregister_reboot_notifier(&ipi_steer_posted_reboot_nb);
		return ret;
	}
	ipi_steer_posted_state = ret;
	return atomic_read(&ipi_steer_posted_refused);
}

/**
 * ipi_steer_glue_posted_withdraw - withdraw the region on every CPU
 *
 * Every online CPU writes 0 to MSR_KVM_POSTED_IPI (offline CPUs did when
 * they went offline); the host then no longer writes the region.
 *
 * Context: process context, may sleep.  Does nothing without a successful
 * ipi_steer_glue_posted_register() before.
 */
void ipi_steer_glue_posted_withdraw(void)
{
	if (ipi_steer_posted_state <= 0)
		return;
	cpuhp_remove_state(ipi_steer_posted_state);
	ipi_steer_posted_state = 0;
	unregister_reboot_notifier(&ipi_steer_posted_reboot_nb);
}

/* sysfs: /sys/kernel/ipi_steer/<attr>, show and store handled in Rust. */

struct ipi_steer_attribute {
	struct kobj_attribute kattr;
	unsigned int id;
};

/* Serializes stores: Rust publishes one configuration at a time. */
static DEFINE_MUTEX(ipi_steer_store_lock);
static struct kobject *ipi_steer_kobj;

static ssize_t ipi_steer_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	const struct ipi_steer_attribute *a =
		container_of(attr, struct ipi_steer_attribute, kattr);

	return ipi_steer_sysfs_show(a->id, buf, PAGE_SIZE);
}

static ssize_t ipi_steer_store(struct kobject *kobj, struct kobj_attribute *attr,
			       const char *buf, size_t len)
{
	const struct ipi_steer_attribute *a =
		container_of(attr, struct ipi_steer_attribute, kattr);
	ssize_t ret;

	mutex_lock(&ipi_steer_store_lock);
	ret = ipi_steer_sysfs_store(a->id, buf, len);
	mutex_unlock(&ipi_steer_store_lock);
	return ret;
}

#define IPI_STEER_ATTR(_name, _mode, _id) \
	{ .kattr = __ATTR(_name, _mode, ipi_steer_show, ipi_steer_store), .id = _id }

static struct ipi_steer_attribute ipi_steer_attrs[] = {
	IPI_STEER_ATTR(mode, 0644, IPI_STEER_ATTR_MODE),
	IPI_STEER_ATTR(features, 0444, IPI_STEER_ATTR_FEATURES),
	IPI_STEER_ATTR(costs, 0644, IPI_STEER_ATTR_COSTS),
	IPI_STEER_ATTR(stats, 0444, IPI_STEER_ATTR_STATS),
	IPI_STEER_ATTR(reset, 0200, IPI_STEER_ATTR_RESET),
	IPI_STEER_ATTR(calibration, 0644, IPI_STEER_ATTR_CALIBRATION),
#ifdef IPI_STEER_FAULT_INJECTION
	IPI_STEER_ATTR(fault_hypercall, 0600, IPI_STEER_ATTR_FAULT_HYPERCALL),
#endif
};

static struct attribute *ipi_steer_attr_ptrs[ARRAY_SIZE(ipi_steer_attrs) + 1];

static const struct attribute_group ipi_steer_group = {
	.attrs = ipi_steer_attr_ptrs,
};

/**
 * ipi_steer_glue_sysfs_init - create /sys/kernel/ipi_steer
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno.
 */
int ipi_steer_glue_sysfs_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(ipi_steer_attrs); i++)
		ipi_steer_attr_ptrs[i] = &ipi_steer_attrs[i].kattr.attr;
	ipi_steer_kobj = kobject_create_and_add("ipi_steer", kernel_kobj);
	if (!ipi_steer_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(ipi_steer_kobj, &ipi_steer_group);
	if (ret) {
		kobject_put(ipi_steer_kobj);
		ipi_steer_kobj = NULL;
	}
	return ret;
}

/**
 * ipi_steer_glue_sysfs_exit - remove /sys/kernel/ipi_steer
 *
 * Waits for running show/store callbacks to finish.
 *
 * Context: process context, may sleep.
 */
void ipi_steer_glue_sysfs_exit(void)
{
	if (ipi_steer_kobj) {
		sysfs_remove_group(ipi_steer_kobj, &ipi_steer_group);
		kobject_put(ipi_steer_kobj);
		ipi_steer_kobj = NULL;
	}
}
