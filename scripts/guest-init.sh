#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of every harness guest.  ROLE=guest runs the guest tests; ROLE=l1
# runs the host tests, then starts the nested guest (L2) under KVM and relays
# its console, answering its counter requests (see selftests/lib/ktap.sh).
# Results are reported as "@@RESULT <test> <status>@@"; "@@DONE@@" ends a
# run that got through.

/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
stty -echo 2>/dev/null
. /etc/harness.conf
. /l2-classify.sh
echo "@@BOOTED $ROLE $(nproc) cpus@@"

# The TIMER softirq count of every CPU, from /proc/softirqs.
timer_softirqs() {
	awk '$1 == "TIMER:" { $1 = ""; print }' /proc/softirqs
}

# The online CPUs, one number each ("0-3,6" -> "0 1 2 3 6").  /proc/softirqs
# has a column for every possible CPU, and a guest with room for hotplugged
# CPUs has many that never come up.
online_cpus() {
	tr ',' '\n' </sys/devices/system/cpu/online |
		awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) printf "%d ", c }'
}

# Under the emulated SVM, an L2 sometimes comes up with a vCPU whose timer
# wheel never runs (its TIMER softirq count stays at 2 or so): the first
# grace period whose RCU kthread waits on that CPU never ends, and the
# guest stalls or hangs later, whatever runs then.  Check before any test:
# keep every CPU busy for 3 s, during which each must run timers (per-CPU
# deferrable work such as vmstat's runs every second), and let a 5 s RCU
# stall timeout (L2's command line) catch a grace period stuck since boot.
# An unhealthy L2 says so and stops; L1 restarts it.
l2_health() {
	echo "@@SETTLING@@"
	before=$(timer_softirqs)
	cpus=$(online_cpus)
	for i in $cpus; do
		taskset -c $i timeout 3 sh -c 'while :; do :; done' &
	done
	wait
	sleep 6
	after=$(timer_softirqs)
	bad=$(echo "$before
$after" | awk -v cpus="$cpus" 'NR == 1 { for (i = 1; i <= NF; i++) b[i] = $i; next }
		{ n = split(cpus, on, " ")
		  for (j = 1; j <= n; j++) { i = on[j] + 1
			if ($i <= b[i]) printf "CPU%d: %d -> %d; ", i - 1, b[i], $i } }')
	if [ -n "$bad" ]; then
		echo "@@L2 UNHEALTHY: timer softirqs did not advance: $bad@@"
		return 1
	fi
	echo 21 >/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout
	echo "@@SETTLED: timer softirqs $before -> $after@@"
}

run_tests() {
	if [ "${NESTED:-0}" = 1 ] && [ "$ROLE" = guest ] && ! l2_health; then
		return
	fi
	case "${IPI_STEER_FAULT:-}" in
	guest_panic) fault=panic ;;
	guest_triple_fault) fault=triplefault ;;
	*) fault= ;;
	esac
	if [ -n "$fault" ]; then
		insmod /lib/modules/ipi_traffic.ko
		echo "$fault 1 0" >/sys/kernel/debug/ipi_traffic/run
	fi
	# A restarted L2 runs only the tests its earlier attempts did not pass
	# (harness.tests=a,b on its command line, see run_l2).
	for w in $(cat /proc/cmdline); do
		case "$w" in harness.tests=*) TESTS=$(echo "${w#*=}" | tr , ' ') ;; esac
	done
	for t in $TESTS; do
		echo "@@START $t@@"
		sh "/tests/$t.sh"
		echo "@@RESULT $t $?@@"
	done
}

# The L1 thread of L2's vCPU 0 (QEMU names it "CPU 0/KVM"): the guest
# tests send from CPU 0, so its events are the sender-side counts.
vcpu0_tid() {
	for t in /proc/[0-9]*/task/[0-9]*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "CPU 0/KVM" ] && { basename "$t"; return; }
	done
}

# hist_vectors EVENT TID NAME: NAME=<hits of TID> and NAME_<vector>=<hits>
# for each vector, from EVENT's histogram keyed by thread and by the ICR
# value (the second key: kvm_msr's data, kvm_hypercall's a3), whose low
# byte is the vector.
hist_vectors() {
	awk -v tid="$2" -v name="$3" '/common_pid:/ {
		# "common_pid: 1035," or "common_pid: comm [1035],": the last
		# number before the next key.
		k = $0; sub(/.*common_pid: */, "", k); sub(/[,}].*/, "", k)
		n = split(k, w, /[^0-9]+/); pid = ""
		for (i = n; i >= 1; i--) if (w[i] != "") { pid = w[i]; break }
		v = $0; sub(/.*(data|a3): */, "", v); sub(/[^0-9].*/, "", v)
		h = $0; sub(/.*hitcount: */, "", h)
		if (pid == tid) { t += h; c[v % 256] += h }
	} END {
		printf "%s=%d", name, t
		for (x in c) printf " %s_%d=%d", name, x, c[x]
	}' "/sys/kernel/tracing/events/kvm/$1/hist" 2>/dev/null
}

# hist_count EVENT TID: hits of EVENT's common_pid histogram for TID.
hist_count() {
	awk -v tid="$2" '/common_pid/ {
		s = $0; sub(/}.*/, "", s); n = split(s, w, /[^0-9]+/)
		pid = ""; for (i = n; i >= 1; i--) if (w[i] != "") { pid = w[i]; break }
		h = $0; sub(/.*hitcount: */, "", h)
		if (pid == tid) c += h + 0
	} END { print c + 0 }' "/sys/kernel/tracing/events/kvm/$1/hist" 2>/dev/null
}

# posted_msr_counts: the guest's writes of MSR_KVM_POSTED_IPI over all
# vCPUs, from kvm_msr's second histogram (keyed by value and #GP, not by
# thread): posted_msr_set= (a region) and posted_msr_clear= (0) that KVM
# took, posted_msr_set_gp= and posted_msr_clear_gp= that it refused.
posted_msr_counts() {
	awk '/exception:/ && !/common_pid/ {
		d = $0; sub(/.*data: */, "", d); sub(/[^0-9].*/, "", d)
		x = $0; sub(/.*exception: */, "", x); sub(/[^0-9].*/, "", x)
		h = $0; sub(/.*hitcount: */, "", h)
		k = (d + 0 == 0 ? "clear" : "set") (x + 0 == 0 ? "" : "_gp")
		c[k] += h
	} END {
		printf "posted_msr_set=%d posted_msr_clear=%d posted_msr_set_gp=%d posted_msr_clear_gp=%d",
			c["set"], c["clear"], c["set_gp"], c["clear_gp"]
	}' /sys/kernel/tracing/events/kvm/kvm_msr/hist 2>/dev/null
}

# Counters of the one running VM as "name=value" words: KVM's debugfs
# totals over all vCPUs, and vCPU 0's x2APIC ICR writes and hypercalls (in
# all and per vector: icr_writes_252=...) and exits from the kvm_msr,
# kvm_hypercall and kvm_exit histograms; and the MSR_KVM_POSTED_IPI
# writes of all vCPUs (posted_msr_counts).
kvm_counters() {
	d=$(ls -d /sys/kernel/debug/kvm/*-*/ 2>/dev/null | head -n1)
	[ -n "$d" ] || { echo "novm=1"; return; }
	out=
	for c in exits hypercalls halt_exits irq_exits irq_window_exits \
		request_irq_exits directed_yield_attempted; do
		[ -f "$d$c" ] && out="$out $c=$(cat "$d$c")"
	done
	[ -n "$VCPU0" ] || VCPU0=$(vcpu0_tid)
	echo "$out $(hist_vectors kvm_msr "$VCPU0" icr_writes)" \
		"$(hist_vectors kvm_hypercall "$VCPU0" sender_hypercalls)" \
		"sender_exits=$(hist_count kvm_exit "$VCPU0")" \
		"$(posted_msr_counts)"
}

# end_l2_when_quiet LIMIT: end L2 once its console has been quiet for 20 s
# (its reports are complete), or LIMIT seconds from now at the latest.
end_l2_when_quiet() {
	[ -e /tmp/l2ending ] && return
	: >/tmp/l2ending
	(
		t=0
		while sleep 5; do
			t=$((t + 5))
			last=$(stat -c %Y /tmp/l2last 2>/dev/null || echo 0)
			[ $(($(date +%s) - last)) -ge 20 ] && break
			[ "$t" -ge "$1" ] && break
		done
		kill $(pidof qemu-system-x86_64) 2>/dev/null
	) &
}

# L1's refined TSC rate in kHz, once the kernel has refined it.
refined_tsc_khz() {
	dmesg | sed -n 's/.*Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9][0-9][0-9]\) MHz.*/\1\2/p' | tail -n1
}

run_l2_once() {
	# A healthy L2 prints at least every 30 s (tests that wait longer say
	# so, see ktap_sleep); one that stays silent for L2_SILENCE seconds
	# without having reported any kernel error has stopped (under the
	# emulator, its clock stops too) and is ended.
	: >/tmp/l2last
	(
		while sleep 10; do
			last=$(stat -c %Y /tmp/l2last 2>/dev/null || echo 0)
			if [ $(($(date +%s) - last)) -ge "${L2_SILENCE:-150}" ]; then
				: >/tmp/l2silent
				kill $(pidof qemu-system-x86_64) 2>/dev/null
				exit 0
			fi
		done
	) &
	watchdog=$!
	# KVM in L1 is built in and takes its default guest TSC rate from
	# L1's early TSC calibration; when L1 later refines its TSC rate by
	# more than KVM's 250 ppm tolerance, every vCPU of L2 asks for a rate
	# "below hardware speed" (in L1's log), which KVM cannot give without
	# TSC scaling, and L2's clock breaks: seen in every run whose L2s died
	# at boot.  Ask for L1's refined rate instead.
	cpu=host
	mhz=$(refined_tsc_khz)
	[ -n "$mhz" ] && cpu="host,tsc-frequency=${mhz}000"
	# KVM kept its early rate and cannot give the refined one (no TSC
	# scaling): QEMU then refuses to start; use the rate KVM has.
	[ -s /tmp/l2tschost ] && cpu="host,tsc-frequency=$(cat /tmp/l2tschost)000"
	{
		timeout -k 5 "$l2_limit" qemu-system-x86_64 -enable-kvm -cpu "$cpu" \
			-name l2,debug-threads=on \
			-smp "$L2_SMP" ${L2_QEMU_ARGS:-} -m 768M -vga none -display none -serial stdio -monitor none \
			-no-reboot -nic none -kernel /l2/bzImage -initrd /l2/initrd.cpio \
			-append "$L2_ARGS" <&3 2>&1
		echo "@@L2 qemu exit status $?@@"
	} |
		while IFS= read -r line; do
			line=$(printf '%s' "$line" | tr -d '\r')
			echo "L2| $line"
			: >/tmp/l2last
			l2_line "$line"
		done
	kill "$watchdog" 2>/dev/null
}

run_l2() {
	# Per-thread (= per-vCPU) histograms of ICR writes, hypercalls, exits.
	e=/sys/kernel/tracing/events/kvm
	echo 'hist:keys=common_pid,data if write == 1 && ecx == 0x830' >$e/kvm_msr/trigger
	# MSR_KVM_POSTED_IPI (0x4b564d09) writes, taken or refused.
	echo 'hist:keys=data,exception if write == 1 && ecx == 0x4b564d09' >>$e/kvm_msr/trigger
	echo 'hist:keys=common_pid,a3 if nr == 10' >$e/kvm_hypercall/trigger
	echo 'hist:keys=common_pid' >$e/kvm_exit/trigger
	VCPU0=
	# L1 refines its TSC rate a few seconds after boot (see run_l2_once):
	# wait for it, so that L2 starts at the final rate.
	i=0
	while [ $i -lt 30 ] && ! dmesg | grep -q 'Refined TSC clocksource calibration\|TSC unstable'; do
		sleep 1
		i=$((i + 1))
	done
	mkfifo /tmp/l2in
	exec 3<>/tmp/l2in
	# Under TCG, L2 sometimes dies under the emulated SVM: QEMU exits
	# silently (a triple fault; seen during L2's boot, before any test),
	# L2's kernel reports an error while booting, before any test or
	# module of ours has run (e.g. lockdep seeing nested timer interrupts),
	# or L2's idle vCPUs stop taking timer interrupts and RCU stalls
	# ("timer wakeup didn't happen"), or its entry code takes #GP on its
	# own IRET until the entry stack overflows (also seen with ipi_steer
	# not loaded), or a CPU takes a timer interrupt with interrupts off,
	# or a vCPU stops taking even NMIs.  Unless a frame of the module is
	# in the report, such an L2 is restarted, at most
	# five times, and every restart is reported in the summary; any other
	# kernel error (oops, BUG, WARNING, CSD-lock timeout) or test failure
	# ends the run and fails it.  A restarted L2 runs only the tests that
	# have not passed yet; scripts/summary.sh still scans each earlier
	# attempt for kernel errors up to its last passed test.
	attempt=1
	: >/tmp/l2passed
	while :; do
		rm -f /tmp/l2done /tmp/l2ending /tmp/l2timer /tmp/l2trouble /tmp/l2qemuerr \
			/tmp/l2iretgp /tmp/l2hung /tmp/l2boot /tmp/l2tests /tmp/l2failed /tmp/l2silent \
			/tmp/l2ours /tmp/l2recursive /tmp/l2irqoff /tmp/l2nmi
		todo=
		for t in $L2_TESTS; do
			grep -qx "$t" /tmp/l2passed || todo="$todo${todo:+,}$t"
		done
		# All attempts share L2_BUDGET, seconds of L1's uptime (set by
		# scripts/vm.sh from its time limit, less room for L1 to end
		# and report): an attempt may use what is left of it, at most
		# L2_TIMEOUT, so that L1's time limit never cuts off the run
		# and its reports.  An attempt needs at least 240 s.
		now=$(cut -d. -f1 /proc/uptime)
		left=$((${L2_BUDGET:-3600} - now))
		l2_limit=${L2_TIMEOUT:-1200}
		[ "$left" -lt "$l2_limit" ] && l2_limit=$left
		if [ "$l2_limit" -lt 240 ]; then
			if [ "$attempt" = 1 ]; then
				echo "@@HARNESS L2 could not start: only $left s of its time budget left@@"
			else
				echo "@@HARNESS L2 unusable under emulation: died in all $((attempt - 1)) attempts, no time left for another (last: $why)@@"
			fi
			break
		fi
		# A new QEMU has new vCPU threads: find vCPU 0 again.
		VCPU0=
		echo "@@L2 starting: smp=$L2_SMP attempt=$attempt tests=$todo limit=${l2_limit}s L1 TSC: $(dmesg | sed -n 's/.*Refined TSC clocksource calibration: //p' | tail -n1)@@"
		# A short RCU stall timeout while L2 settles, see run_tests.
		L2_ARGS="$L2_CMDLINE harness.tests=$todo rcupdate.rcu_cpu_stall_timeout=5"
		run_l2_once
		wait
		l2_verdict
		case "$verdict" in
		tsc)
			# KVM kept L1's early TSC rate, which it cannot give
			# L2 at L1's refined rate.  L2 is then started at
			# KVM's rate, but in such L1 boots L2s have also died
			# at that rate, every one (their clocks stop while
			# booting), so boot L1 again while boots are left
			# (scripts/vm.sh allows three).  L2 has not run.
			# The next boot takes the refined rate as its early
			# one (tsc_early_khz, added by scripts/vm.sh), so its
			# KVM starts with it.
			boot=$(sed -n 's/.*harness\.boot=\([0-9]*\).*/\1/p' /proc/cmdline)
			khz=$(refined_tsc_khz)
			if [ "${boot:-3}" -lt 3 ] && [ -n "$khz" ]; then
				echo "@@HARNESS L1 reboot: KVM kept L1's early TSC rate, $(cat /tmp/l2tschost.new) kHz, not its refined one; booting L1 again (boot $boot) with tsc_early_khz=$khz, before L2 ran@@"
				sleep 2
				poweroff -f
			fi
			mv /tmp/l2tschost.new /tmp/l2tschost
			echo "@@HARNESS L2 could not start at L1's refined TSC rate; starting it at KVM's rate, $(cat /tmp/l2tschost) kHz@@"
			continue ;;
		qemuerr)
			echo "@@HARNESS L2 could not start: QEMU said: $(cat /tmp/l2qemuerr)@@"
			break ;;
		judge)
			break ;;
		esac
		if [ "$attempt" -ge 6 ]; then
			echo "@@HARNESS L2 unusable under emulation: died in all $attempt attempts (last: $why)@@"
			break
		fi
		echo "@@HARNESS L2 died under emulation (attempt $attempt: $why), restarting L2@@"
		attempt=$((attempt + 1))
	done
	echo "@@L2 exited@@"
	# The shape of the histograms the counters were read from.
	for ev in kvm_msr kvm_hypercall; do
		echo "# $ev histogram (first lines):"
		grep -m 4 common_pid "$e/$ev/hist" | sed 's/^/#   /'
	done
}

if [ "$ROLE" = l1 ]; then
	echo "@@KVM $(ls /dev/kvm 2>/dev/null)@@"
	run_tests
	run_l2
else
	run_tests
fi
echo "@@DONE@@"
# Let the console drain first: the serial port sends what userspace wrote
# from a buffer, while the kernel prints its last messages at once, and a
# result line written just before poweroff has come out split by them.
sleep 2
poweroff -f
