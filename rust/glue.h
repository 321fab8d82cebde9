/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of ipi_steer: what Rust cannot reach directly (static inline
 * helpers, alternatives-patched instructions, per-CPU macros, stop_machine,
 * the kobject).  Everything else lives in Rust.
 */
#ifndef IPI_STEER_GLUE_H
#define IPI_STEER_GLUE_H

#include <linux/types.h>

struct cpumask;

/* Bits of ipi_steer_glue_features(). */
#define IPI_STEER_F_KVM			(1U << 0)
#define IPI_STEER_F_PV_SEND_IPI		(1U << 1)
#define IPI_STEER_F_PV_SCHED_YIELD	(1U << 2)
#define IPI_STEER_F_X2APIC		(1U << 3)
#define IPI_STEER_F_TDX_GUEST		(1U << 4)
#define IPI_STEER_F_VENDOR_AMD		(1U << 5)

/* The IPI vectors ipi_steer sends (checked against asm/irq_vectors.h). */
#define IPI_STEER_RESCHEDULE_VECTOR		0xfd
#define IPI_STEER_CALL_FUNCTION_VECTOR		0xfc
#define IPI_STEER_CALL_FUNCTION_SINGLE_VECTOR	0xfb

/* The three SMP IPI paths of struct smp_ops that ipi_steer takes over. */
struct ipi_steer_smp_ipi_ops {
	void (*smp_send_reschedule)(int cpu);
	void (*send_call_func_single_ipi)(int cpu);
	void (*send_call_func_ipi)(const struct cpumask *mask);
};

u32 ipi_steer_glue_features(void);
unsigned int ipi_steer_glue_nr_cpu_ids(void);
void ipi_steer_glue_get_ops(struct ipi_steer_smp_ipi_ops *ops);
int ipi_steer_glue_swap_ops(const struct ipi_steer_smp_ipi_ops *install,
			    const struct ipi_steer_smp_ipi_ops *expect,
			    struct ipi_steer_smp_ipi_ops *saved);
void ipi_steer_glue_synchronize(void);

unsigned long ipi_steer_glue_irq_save(void);
void ipi_steer_glue_irq_restore(unsigned long flags);
unsigned int ipi_steer_glue_this_cpu(void);
bool ipi_steer_glue_cpu_online(int cpu);
void ipi_steer_glue_warn_offline(int cpu);
u32 ipi_steer_glue_apicid(int cpu);
unsigned int ipi_steer_glue_other_online_apicids(u32 *ids, unsigned int max);
u64 ipi_steer_glue_cycles(void);
unsigned int ipi_steer_glue_mask_apicids(const struct cpumask *mask, u32 *ids,
					 unsigned int max, bool *all_but_self);

void ipi_steer_glue_x2apic_fence(void);
void ipi_steer_glue_x2apic_icr_write(u64 icr);
long ipi_steer_glue_kvm_send_ipi(u64 bitmap_low, u64 bitmap_high, u32 min,
				 u32 icr);
long ipi_steer_glue_kvm_hypercall0(unsigned int nr);
long ipi_steer_glue_tdvmcall(u64 r10, u64 r11, u64 r12, u64 r13);
bool ipi_steer_glue_yield_to_preempted(const struct cpumask *mask);

int ipi_steer_glue_sysfs_init(void);
void ipi_steer_glue_sysfs_exit(void);

/* Implemented in Rust: sysfs show/store of attribute @attr. */
long ipi_steer_sysfs_show(unsigned int attr, char *buf, size_t len);
long ipi_steer_sysfs_store(unsigned int attr, const char *buf, size_t len);

#endif /* IPI_STEER_GLUE_H */
