// SPDX-License-Identifier: GPL-2.0
/*
 * ipi_traffic - test module that sends IPIs through the kernel's SMP paths
 * and counts every delivery, for ipi_steer's delivery tests and benchmarks.
 *
 * Write "KIND N CPULIST" to /sys/kernel/debug/ipi_traffic/run, where KIND is
 * one of
 *   resched  smp_ops.smp_send_reschedule() to each target, then wait until
 *            the target's reschedule-interrupt count moved; the send call
 *            alone is timed too (send=, with interrupts off)
 *   single   smp_call_function_single(wait) to each target
 *   many     smp_call_function_many(wait) to all targets at once
 * ("panic 1 0" panics the guest and "triplefault 1 0" makes its CPU shut
 * down on a triple fault, to show that the harness notices each.)
 * N is the number of operations and CPULIST the targets (the writing CPU is
 * never a target: the write pins itself to the first online CPU outside the
 * list).  Reading "run" returns the result of the last write:
 *   kind=.. ops=N targets=K sent=S handled=H lost=L cycles=C send=T
 * where sent counts target deliveries requested, handled counts handler runs
 * (resched: interrupts seen), lost counts deliveries not seen within 5 s,
 * C is the TSC cycles of the whole run and T (resched only, else 0) the TSC
 * cycles spent inside the send calls: under QEMU's -icount the TSC counts
 * guest instructions, so T then measures the instructions of the send path.
 */
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/timex.h>
#include <linux/uaccess.h>
#include <asm/desc.h>
#include <asm/hardirq.h>
#include <asm/tsc.h>

static DEFINE_MUTEX(ipi_traffic_lock);
static DEFINE_PER_CPU(atomic_long_t, ipi_traffic_hits);
static char ipi_traffic_result[256];
static struct dentry *ipi_traffic_dir;

static void ipi_traffic_count(void *unused)
{
	atomic_long_inc(this_cpu_ptr(&ipi_traffic_hits));
}

static long ipi_traffic_hits_sum(const struct cpumask *mask)
{
	long sum = 0;
	int cpu;

	for_each_cpu(cpu, mask)
		sum += atomic_long_read(per_cpu_ptr(&ipi_traffic_hits, cpu));
	return sum;
}

/* Wait until @cpu's reschedule-interrupt count passes @old; false on timeout. */
static bool ipi_traffic_wait_resched(int cpu, unsigned int old)
{
	unsigned long end = jiffies + 5 * HZ;

	while (READ_ONCE(per_cpu(irq_stat, cpu).counts[IRQ_COUNT_RESCHEDULE]) == old) {
		if (time_after(jiffies, end))
			return false;
		cpu_relax();
	}
	return true;
}

static int ipi_traffic_run(const char *kind, unsigned long ops,
			   struct cpumask *targets)
{
	unsigned long i, sent = 0, lost = 0, flags;
	long before, handled;
	unsigned int old;
	cycles_t t0, t1, s0, send = 0;
	int cpu, self;

	self = cpumask_first_andnot(cpu_online_mask, targets);
	if (self >= nr_cpu_ids)
		return -EINVAL;
	if (!cpumask_subset(targets, cpu_online_mask))
		return -ENODEV;
	set_cpus_allowed_ptr(current, cpumask_of(self));
	if (raw_smp_processor_id() != self)
		return -EAGAIN;

	before = ipi_traffic_hits_sum(targets);
	handled = 0;
	t0 = get_cycles();
	for (i = 0; i < ops; i++) {
		if (!strcmp(kind, "many")) {
			preempt_disable();
			smp_call_function_many(targets, ipi_traffic_count, NULL, true);
			preempt_enable();
			sent += cpumask_weight(targets);
		} else if (!strcmp(kind, "single")) {
			for_each_cpu(cpu, targets) {
				smp_call_function_single(cpu, ipi_traffic_count, NULL, 1);
				sent++;
			}
		} else {
			for_each_cpu(cpu, targets) {
				old = READ_ONCE(per_cpu(irq_stat, cpu).counts[IRQ_COUNT_RESCHEDULE]);
				local_irq_save(flags);
				s0 = rdtsc_ordered();
				arch_smp_send_reschedule(cpu);
				send += rdtsc_ordered() - s0;
				local_irq_restore(flags);
				sent++;
				if (ipi_traffic_wait_resched(cpu, old))
					handled++;
				else
					lost++;
			}
		}
		cond_resched();
	}
	t1 = get_cycles();
	if (strcmp(kind, "resched")) {
		handled = ipi_traffic_hits_sum(targets) - before;
		lost = sent > handled ? sent - handled : 0;
	}
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	snprintf(ipi_traffic_result, sizeof(ipi_traffic_result),
		 "kind=%s ops=%lu targets=%u sent=%lu handled=%ld lost=%lu cycles=%llu send=%llu\n",
		 kind, ops, cpumask_weight(targets), sent, handled, lost,
		 (unsigned long long)(t1 - t0), (unsigned long long)send);
	return 0;
}

/*
 * With an empty IDT, the breakpoint cannot be delivered, nor the #GP that
 * raises, nor the double fault: the CPU shuts down, which QEMU (with
 * -no-reboot) turns into its exit without a word on the console.
 */
static void ipi_traffic_triple_fault(void)
{
	struct desc_ptr none = { .size = 0, .address = 0 };

	local_irq_disable();
	native_load_idt(&none);
	asm volatile("int3");
	/* Not reached; should it be, say so rather than run without an IDT. */
	panic("ipi_traffic: the CPU survived an empty IDT");
}

static ssize_t ipi_traffic_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	char buf[128], kind[16], list[96];
	cpumask_var_t targets;
	unsigned long ops;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%15s %lu %95s", kind, &ops, list) != 3 || !ops)
		return -EINVAL;
	if (!strcmp(kind, "panic"))
		panic("ipi_traffic: panic requested by the test");
	if (!strcmp(kind, "triplefault"))
		ipi_traffic_triple_fault();
	if (strcmp(kind, "resched") && strcmp(kind, "single") && strcmp(kind, "many"))
		return -EINVAL;
	if (!zalloc_cpumask_var(&targets, GFP_KERNEL))
		return -ENOMEM;
	ret = cpulist_parse(list, targets);
	if (!ret && cpumask_empty(targets))
		ret = -EINVAL;
	if (!ret) {
		mutex_lock(&ipi_traffic_lock);
		ret = ipi_traffic_run(kind, ops, targets);
		mutex_unlock(&ipi_traffic_lock);
	}
	free_cpumask_var(targets);
	return ret ? ret : len;
}

static ssize_t ipi_traffic_read(struct file *file, char __user *ubuf,
				size_t len, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&ipi_traffic_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, ipi_traffic_result,
				      strlen(ipi_traffic_result));
	mutex_unlock(&ipi_traffic_lock);
	return ret;
}

static const struct file_operations ipi_traffic_fops = {
	.owner = THIS_MODULE,
	.read = ipi_traffic_read,
	.write = ipi_traffic_write,
	.llseek = default_llseek,
};

static int __init ipi_traffic_init(void)
{
	ipi_traffic_dir = debugfs_create_dir("ipi_traffic", NULL);
	debugfs_create_file("run", 0600, ipi_traffic_dir, NULL, &ipi_traffic_fops);
	return 0;
}

static void __exit ipi_traffic_exit(void)
{
	debugfs_remove_recursive(ipi_traffic_dir);
}

module_init(ipi_traffic_init);
module_exit(ipi_traffic_exit);
MODULE_DESCRIPTION("Send IPIs through the kernel's SMP paths and count deliveries");
MODULE_LICENSE("GPL");
