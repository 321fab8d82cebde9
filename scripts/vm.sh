#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel and run tests in it, under QEMU TCG.
#
#   scripts/vm.sh --mode tcg    [options]   L1 guest under TCG
#   scripts/vm.sh --mode nested [options]   L1 = KVM host under TCG (emulated
#                                           SVM, the "host" kernel flavour
#                                           without debug options), L2 = KVM
#                                           guest inside it (the test kernel)
#
# Options:
#   --name NAME            log name (build/logs/NAME.log)
#   --smp N                vCPUs of the guest that runs the guest tests
#                          (L1 in tcg mode, L2 in nested mode); default 4
#   --topology T           extra -smp topology for that guest, e.g.
#                          sockets=2,cores=3 (sparse APIC ids)
#   --l1-smp N             vCPUs of the nested host; default 4
#   --l2-cpu PROPS         nested mode: one more L2 vCPU, placed by QEMU
#                          properties (-device host-x86_64-cpu,PROPS, e.g.
#                          socket-id=1,core-id=0,thread-id=0), for APIC ids
#                          beyond the CPUs --smp brings up (repeatable)
#   --guest-test NAME      run selftests/guest/NAME.sh in the guest (repeatable)
#   --host-test NAME       run selftests/host/NAME.sh in L1 before L2 starts
#                          (nested mode, repeatable)
#   --append ARGS          extra kernel command line for the test guest
#   --env VAR=VALUE        variable for the guest and host tests (repeatable)
#   --timeout S            wall-clock limit for the whole run; default 900
#   --accel tcg|kvm        accelerator of the outermost VM.  kvm is for users
#                          with real hardware virtualization; default tcg
#   --guest-kernel K       kernel of the guest that runs the guest tests:
#                          "test" (default: the test kernel with KUnit,
#                          scftorture and the debug options) or "stock"
#                          (Debian's own vmlinuz of STOCK_RELEASE, with
#                          ipi_steer built for it by scripts/stock.sh; no
#                          KUnit, scftorture or fault injection there)
#   --stock-module M       with --guest-kernel stock, which ipi_steer.ko
#                          the guest loads: "built" (default: make stock's)
#                          or "dkms" (the one Debian's dkms built and
#                          installed from the DKMS sources, as make install
#                          does)
#
# Environment: IPI_STEER_L1_PATCHES=none boots L1 on the host kernel built
# without host-patches/ (nested mode); IPI_STEER_L1_TCG_THREAD=single runs
# L1 with one TCG thread.  IPI_STEER_BOOT_WATCHDOG (seconds, default 120):
# a guest (L1 in nested mode) that has not reached its init by then is
# booted again, at most twice, and the restart is reported.
# IPI_STEER_SILENCE_WATCHDOG (seconds, default 600): a booted guest whose
# console stays silent that long has stopped; it is ended and the run fails.
# IPI_STEER_TROUBLE_GRACE (seconds, default 120): a guest whose own console
# shows a kernel report (scripts/kernel-trouble.sh) is ended that long
# after it, since the run has failed already.
#
# Every guest test prints TAP; the harness collects them into one summary and
# fails on a non-zero test status, a missing test result, a panic, an oops, a
# warning or a lockdep report.  The log of a failed run is kept in
# build/logs/failed/.  Prints the summary; exit status 0 if all passed, 1 if
# anything failed, 3 if nothing failed but nested L2 died under emulation in
# every attempt, so its tests could not run (reported as skipped).

. "$(dirname "$0")/common.sh"
. "$TOP/scripts/kernel-trouble.sh"

MODE=tcg NAME= SMP=4 TOPO= L1_SMP=4 GUEST_TESTS= HOST_TESTS= APPEND= TIMEOUT=900 ENVS=
GUEST_KERNEL=test L2_CPUS=
ACCEL=${IPI_STEER_ACCEL:-tcg}
BOOT_WATCHDOG=${IPI_STEER_BOOT_WATCHDOG:-120}
SILENCE_WATCHDOG=${IPI_STEER_SILENCE_WATCHDOG:-600}
TROUBLE_GRACE=${IPI_STEER_TROUBLE_GRACE:-120}
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) MODE=$2; shift ;;
	--name) NAME=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--topology) TOPO=$2; shift ;;
	--l1-smp) L1_SMP=$2; shift ;;
	--l2-cpu)
		case "$2" in *[!a-z0-9=,-]* | "") die "--l2-cpu wants QEMU cpu properties like socket-id=1,core-id=0,thread-id=0" ;; esac
		L2_CPUS="$L2_CPUS $2"; shift ;;
	--guest-test) GUEST_TESTS="$GUEST_TESTS $2"; shift ;;
	--host-test) HOST_TESTS="$HOST_TESTS $2"; shift ;;
	--append) APPEND=$2; shift ;;
	--env)
		case "$2" in [A-Z_]*=*) ;; *) die "--env wants VAR=VALUE" ;; esac
		ENVS="$ENVS $2"; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--accel) ACCEL=$2; shift ;;
	--guest-kernel) GUEST_KERNEL=$2; shift ;;
	--stock-module) STOCK_MODULE=$2; shift ;;
	--inner) INNER=1 ;;
	*) die "unknown option $1 (see the head of scripts/vm.sh)" ;;
	esac
	shift
done
case "$MODE" in tcg | nested) ;; *) die "--mode must be tcg or nested" ;; esac
case "$BOOT_WATCHDOG" in '' | *[!0-9]*) die "IPI_STEER_BOOT_WATCHDOG must be a number of seconds" ;; esac
case "$SILENCE_WATCHDOG" in '' | *[!0-9]*) die "IPI_STEER_SILENCE_WATCHDOG must be a number of seconds" ;; esac
case "$TROUBLE_GRACE" in '' | *[!0-9]*) die "IPI_STEER_TROUBLE_GRACE must be a number of seconds" ;; esac
case "$ACCEL" in tcg | kvm) ;; *) die "--accel must be tcg or kvm" ;; esac
case "$GUEST_KERNEL" in test | stock) ;; *) die "--guest-kernel must be test or stock" ;; esac
case "${STOCK_MODULE:=built}" in built | dkms) ;; *) die "--stock-module must be built or dkms" ;; esac
[ -z "$L2_CPUS" ] || [ "$MODE" = nested ] || die "--l2-cpu needs --mode nested"
for t in $GUEST_TESTS; do [ -f "$TOP/selftests/guest/$t.sh" ] || die "no guest test $t"; done
if [ "$GUEST_KERNEL" = stock ]; then
	for t in $GUEST_TESTS; do
		case "$t" in
		kunit | faults | torture | hotplug | loadunload)
			die "guest test $t needs the test kernel (KUnit, scftorture or fault injection)" ;;
		esac
	done
fi
for t in $HOST_TESTS; do [ -f "$TOP/selftests/host/$t.sh" ] || die "no host test $t"; done
NAME=${NAME:-$MODE}
SMP_ARG=$SMP${TOPO:+,$TOPO}

# ---------------------------------------------------------------------------
# Inside the toolchain root: build the initramfs images and boot.
# ---------------------------------------------------------------------------
if [ "${INNER:-0}" = 1 ]; then
	KDIR=$IPI_STEER_KDIR      # kernel build directory (test kernel)
	KO=$IPI_STEER_KO          # ipi_steer.ko
	TRAFFIC=$IPI_STEER_TRAFFIC # ipi_traffic.ko, for the same kernel
	BZIMAGE=$IPI_STEER_BZIMAGE # the test guest's kernel image
	KSFT=$IPI_STEER_KSFT      # KVM selftests output directory (nested)
	HDIR=$IPI_STEER_HDIR      # kernel build of the nested host (no debug options)
	WORK=/src/build/vm/$NAME
	rm -rf "$WORK"
	mkdir -p "$WORK"

	# $1 = staging dir, $2 = role (guest|l1), $3 = tests
	stage_common() {
		local d=$1
		mkdir -p "$d"/{bin,dev,proc,sys,tmp,etc,tests,lib/modules}
		cp /bin/busybox "$d/bin/busybox"
		cp /src/scripts/guest-init.sh "$d/init"
		cp /src/scripts/l2-classify.sh "$d/l2-classify.sh"
		chmod +x "$d/init"
		cp /src/selftests/lib/*.sh "$d/tests/"
		printf 'ROLE=%s\nTESTS="%s"\n' "$2" "$3" >"$d/etc/harness.conf"
	}

	# Test guest: TCG L1 or nested L2.
	G=$WORK/guest
	stage_common "$G" guest "$GUEST_TESTS"
	for t in $GUEST_TESTS; do cp "/src/selftests/guest/$t.sh" "$G/tests/"; done
	[ "$MODE" = nested ] && echo NESTED=1 >>"$G/etc/harness.conf"
	echo "GUEST_KERNEL=$GUEST_KERNEL" >>"$G/etc/harness.conf"
	# With patches in the series, the test kernel carries them (and their
	# KUnit suite), and so does L1 unless told otherwise: L2 then gets the
	# host's answer to KVM_HC_IPI_ACCEL_INFO.
	if grep -Eqv '^[[:space:]]*(#|$)' /src/host-patches/series; then
		[ "$GUEST_KERNEL" = stock ] || echo HOST_PATCHES=1 >>"$G/etc/harness.conf"
		if [ "$MODE" = nested ] && [ "${IPI_STEER_L1_PATCHES:-series}" = series ]; then
			echo EXPECT_HOST_HINT=1 >>"$G/etc/harness.conf"
		fi
	fi
	for e in $ENVS; do echo "${e%%=*}=\"${e#*=}\"" >>"$G/etc/harness.conf"; done
	# Fault demos: IPI_STEER_FAULT=guest_panic panics the test guest,
	# guest_triple_fault shuts its CPU down (a triple fault).
	[ -n "${IPI_STEER_FAULT:-}" ] && echo "IPI_STEER_FAULT=$IPI_STEER_FAULT" >>"$G/etc/harness.conf"
	cp "$KO" "$TRAFFIC" "$G/lib/modules/"
	# The smp_call_function torture test (debug.config builds it as a module).
	if [ "$GUEST_KERNEL" = test ]; then
		cp "$KDIR/kernel/torture.ko" "$KDIR/kernel/scftorture.ko" "$G/lib/modules/"
	fi
	(cd "$G" && find . | cpio -o -H newc --quiet) >"$WORK/guest.cpio"

	GUEST_CMDLINE="console=ttyS0 panic=-1 oops=panic loglevel=7 $APPEND"
	if [ "$MODE" = tcg ]; then
		# no_ipi_broadcast=1 under TCG only: QEMU can wake a CPU waiting
		# for its startup IPI when a shorthand IPI reaches it, and that
		# CPU later takes the startup IPI in long mode (README, "Known
		# limits": the kernel alone, without ipi_steer, crashed so).
		ACCEL_ARGS=(-accel tcg,thread=multi -cpu max)
		TCG_CMDLINE=" no_ipi_broadcast=1"
		if [ "$ACCEL" = kvm ]; then
			ACCEL_ARGS=(-accel kvm -cpu host)
			TCG_CMDLINE=
		fi
		QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -machine q35
			-device intel-iommu,intremap=on,eim=on
			-smp "$SMP_ARG" -m 1G -display none -serial stdio -monitor none
			-no-reboot -nic none -kernel "$BZIMAGE"
			-initrd "$WORK/guest.cpio" -append "$GUEST_CMDLINE x2apic_phys$TCG_CMDLINE")
	else
		# L1: the KVM host.  It carries QEMU (with its libraries and
		# firmware), the kernel and L2's initramfs, and the KVM selftests.
		H=$WORK/host
		stage_common "$H" l1 "$HOST_TESTS"
		for t in $HOST_TESTS; do cp "/src/selftests/host/$t.sh" "$H/tests/"; done
		mkdir -p "$H/l2" "$H/usr/share/qemu" "$H/usr/bin" "$H/kselftest"
		cp "$BZIMAGE" "$H/l2/bzImage"
		cp "$WORK/guest.cpio" "$H/l2/initrd.cpio"
		cp /usr/bin/qemu-system-x86_64 "$H/usr/bin/"
		ldd /usr/bin/qemu-system-x86_64 | grep -o '/[^ ]*' | while read -r lib; do
			mkdir -p "$H$(dirname "$lib")"
			cp -L "$lib" "$H$lib"
		done
		# Firmware, from QEMU's search path (Debian: qemu, then seabios).
		for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin pvh.bin; do
			src=$(ls /usr/share/qemu/$f /usr/share/seabios/$f 2>/dev/null | head -n1)
			[ -n "$src" ] || die "QEMU firmware $f not found"
			mkdir -p "$H$(dirname "$src")"
			cp -L "$src" "$H$src"
		done
		if [ -n "$HOST_TESTS" ]; then
			cp -r "$KSFT"/. "$H/kselftest/"
		fi
		for e in $ENVS; do echo "${e%%=*}=\"${e#*=}\"" >>"$H/etc/harness.conf"; done
		cat >>"$H/etc/harness.conf" <<CONF
L2_SMP="$SMP_ARG"
L2_CMDLINE="$GUEST_CMDLINE"
L2_TESTS="$GUEST_TESTS"
L2_BUDGET="$((TIMEOUT > 300 ? TIMEOUT - 120 : TIMEOUT * 3 / 5))"
L2_QEMU_ARGS="$(for c in $L2_CPUS; do printf -- '-device host-x86_64-cpu,%s ' "$c"; done)"
CONF
		(cd "$H" && find . | cpio -o -H newc --quiet) >"$WORK/host.cpio"
		ACCEL_ARGS=(-accel "tcg,thread=${IPI_STEER_L1_TCG_THREAD:-multi}" -cpu max,vendor=AuthenticAMD)
		[ "$ACCEL" = kvm ] && ACCEL_ARGS=(-accel kvm -cpu host)
		QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -machine q35
			-smp "$L1_SMP" -m 3G -display none -serial stdio -monitor none
			-no-reboot -nic none -kernel "$HDIR/arch/x86/boot/bzImage"
			-initrd "$WORK/host.cpio"
			-append "console=ttyS0 panic=-1 oops=panic kvm_amd.vgif=0")
	fi
	echo "qemu command: ${QEMU[*]}"
	# Boot watchdog.  Under emulation a kernel has been seen to stop for
	# good during early boot, before init ran and long before any module
	# code (Debian's kernel under TCG, once, right after SMP bring-up).
	# A guest that has not printed @@BOOTED within BOOT_WATCHDOG seconds
	# (boots take under 10 s of guest time) is killed and booted again,
	# at most twice; each such restart is reported in the log and the
	# summary.  Once init has run the watchdog is off: a hang after that
	# is the run's timeout, and fails it.
	attempt=1 TSC_EARLY= emu_restarts=0
	while :; do
		con=$WORK/console.$attempt
		# QEMU's own log of CPU resets: a triple fault is logged there,
		# and nowhere else, before QEMU (-no-reboot) exits.
		resets=$WORK/qemu-resets.$attempt
		: >"$con"
		: >"$resets"
		# The boot's number, on its kernel command line (the last
		# argument): L1 asks for another boot only while one is left.
		timeout --kill-after=10 "$TIMEOUT" "${QEMU[0]}" -d cpu_reset -D "$resets" \
			"${QEMU[@]:1:${#QEMU[@]}-2}" \
			"${QEMU[-1]} harness.boot=$attempt${TSC_EARLY:+ $TSC_EARLY}" </dev/null >"$con" 2>&1 &
		qpid=$!
		tail -n +1 -f --pid=$qpid "$con" &
		tpid=$!
		hung= silent= troubled= waited=0
		while kill -0 $qpid 2>/dev/null; do
			grep -a -q '^@@BOOTED' "$con" && break
			if [ $waited -ge "$BOOT_WATCHDOG" ]; then
				hung=1
				kill $qpid
				break
			fi
			sleep 2
			waited=$((waited + 2))
		done
		# Silence watchdog, once booted: every harness guest prints at
		# least every few minutes (tests report as they go, L1 relays
		# L2, which prints at least every 30 s and is ended by L1 after
		# 150 s of silence).  A guest silent for SILENCE_WATCHDOG
		# seconds has stopped (its kernel could not even report a
		# stall): it is ended, said so in the log, and the run fails
		# now rather than at its time limit.
		# Trouble watchdog: a kernel report in the guest's own output
		# (not an L2 attempt's, which L1 judges and may restart) fails
		# the run whatever follows (scripts/summary.sh); the guest is
		# given TROUBLE_GRACE seconds to print the rest of it and is
		# then ended, rather than left to its time limit (an L1 whose
		# CPU stopped answering NMIs printed RCU stall reports every
		# 75 s for as long as it was let run).
		trouble_at=
		while [ -z "$hung" ] && kill -0 $qpid 2>/dev/null; do
			sleep 5
			if [ -z "$trouble_at" ] && grep -a -v '^L2| ' "$con" | grep -a -Eq "$KERNEL_TROUBLE"; then
				trouble_at=$(date +%s)
			fi
			if [ -n "$trouble_at" ] && [ $(($(date +%s) - trouble_at)) -ge "$TROUBLE_GRACE" ]; then
				kill -0 $qpid 2>/dev/null || break
				troubled=1
				kill $qpid
				break
			fi
			[ $(($(date +%s) - $(stat -c %Y "$con"))) -lt "$SILENCE_WATCHDOG" ] && continue
			kill -0 $qpid 2>/dev/null || break
			silent=1
			kill $qpid
			break
		done
		wait $qpid
		rc=$?
		wait $tpid
		if [ -n "$hung" ]; then
			if [ $attempt -ge 3 ]; then
				echo "@@HARNESS guest hung while booting in all $attempt attempts (no init after ${BOOT_WATCHDOG}s)@@"
				break
			fi
			echo "@@HARNESS guest hung while booting (attempt $attempt: no init after ${BOOT_WATCHDOG}s, before any test), restarting it@@"
			attempt=$((attempt + 1))
			continue
		fi
		if [ $attempt -lt 3 ] && grep -a -q '^@@HARNESS L1 reboot' "$con"; then
			# L1 found its boot unfit for L2 before starting it
			# (see scripts/guest-init.sh): boot it again, with
			# the TSC rate it asks for.
			TSC_EARLY=$(grep -a '^@@HARNESS L1 reboot' "$con" | grep -o 'tsc_early_khz=[0-9]*' | tail -n1)
			attempt=$((attempt + 1))
			continue
		fi
		# Deaths of the guest that ipi_steer cannot cause and that the
		# emulator has been seen to cause: it is booted again, at most
		# twice per run, and all its tests run again; scripts/summary.sh
		# still scans what it printed before the death for kernel
		# errors.
		# - A CPU that answered no NMI for 10 s (RCU's stall report
		#   asks it for a backtrace) was not running kernel code that
		#   can block NMIs: under the emulator this is the vCPU of an
		#   L1 that never left its nested guest (seen twice on
		#   2026-12-06, both times L1's CPU 0 during L2's tests).
		# - L1's kernel stack overflowing while L2 ran, with no frame
		#   of the host patches' code in the report: L1 runs no
		#   ipi_steer code, and nothing a nested guest does may crash
		#   its host; seen once on 2026-12-06 (a page fault taken in
		#   exception entry code on the guard page, L2 in scftorture).
		emu=
		l1_lines() { grep -a -v '^L2| ' "$con"; }
		if [ -n "$troubled" ] && l1_lines | grep -a -q "these CPUS still haven't responded to the NMI"; then
			emu="a CPU answered no NMI for 10 s"
		elif [ "$MODE" = nested ] && grep -a -q '^@@L2 starting' "$con" &&
			l1_lines | grep -a -q 'BUG: TASK stack guard page was hit' &&
			! l1_lines | sed -n '/BUG: TASK stack guard page was hit/,$p' | grep -a -q 'ipi_accel'; then
			emu="L1's kernel stack overflowed while L2 ran"
		fi
		if [ -n "$emu" ] && [ "$emu_restarts" -lt 2 ]; then
			echo "@@HARNESS guest died under emulation (attempt $attempt: $emu), booting it again@@"
			emu_restarts=$((emu_restarts + 1))
			attempt=$((attempt + 1))
			continue
		fi
		# A guest that ended by itself before its run was done: say how
		# QEMU ended (a panic reboots, which -no-reboot makes an exit;
		# a triple fault is the same exit without a word on the console).
		if [ -z "$silent$troubled" ] && [ $rc != 124 ] && ! grep -a -q '^@@DONE@@' "$con"; then
			how="QEMU exited with status $rc"
			grep -q '^Triple fault' "$resets" && how="$how after a triple fault (QEMU's log)"
			l1_lines | grep -a -q 'Kernel panic' && how="$how after a kernel panic"
			echo "@@HARNESS guest ended early: $how@@"
		fi
		[ -n "$silent" ] && echo "@@HARNESS timeout: guest silent for ${SILENCE_WATCHDOG}s, stopped@@"
		[ -n "$troubled" ] && echo "@@HARNESS stopped: the guest's kernel reported trouble (above), ended ${TROUBLE_GRACE}s later@@"
		[ $rc = 124 ] && echo "@@HARNESS timeout after ${TIMEOUT}s@@"
		break
	done
	exit 0
fi

# ---------------------------------------------------------------------------
# On the host: make sure everything is built, run, then judge the log.
# ---------------------------------------------------------------------------
KDIR=$("$TOP/scripts/kernel.sh")
if [ "$GUEST_KERNEL" = stock ]; then
	STOCK=$("$TOP/scripts/stock.sh")
	KO=$STOCK/ipi_steer.ko TRAFFIC=$STOCK/ipi_traffic.ko BZIMAGE=/src/${STOCK#"$TOP"/}/vmlinuz
	[ "$STOCK_MODULE" = built ] || KO=$STOCK/dkms-installed/ipi_steer.ko
else
	KO=$("$TOP/scripts/module.sh" --test)
	TRAFFIC=$TOP/build/ipi_traffic/ipi_traffic.ko
	BZIMAGE=/cache/${KDIR#"$CACHE"/}/arch/x86/boot/bzImage
fi
KSFT= HDIR=
if [ "$MODE" = nested ]; then
	# IPI_STEER_L1_PATCHES=none: L1 runs the host kernel without the
	# host patches (see scripts/kvm-compare.sh).
	HDIR=$(IPI_STEER_KERNEL_FLAVOUR=host IPI_STEER_HOST_PATCHES=${IPI_STEER_L1_PATCHES:-series} \
		"$TOP/scripts/kernel.sh")
	[ -z "$HOST_TESTS" ] || KSFT=$("$TOP/scripts/kselftests.sh")
fi
LOGDIR=$TOP/build/logs
mkdir -p "$LOGDIR"
LOG=$LOGDIR/$NAME.log

log "vm $NAME: mode=$MODE smp=$SMP_ARG accel=$ACCEL guest kernel=$GUEST_KERNEL${STOCK:+ module=${KO#"$TOP"/}} tests:${GUEST_TESTS:- none}${HOST_TESTS:+ host:$HOST_TESTS}"
IPI_STEER_KDIR=/cache/${KDIR#"$CACHE"/} IPI_STEER_KO=/src/${KO#"$TOP"/} \
IPI_STEER_TRAFFIC=/src/${TRAFFIC#"$TOP"/} IPI_STEER_BZIMAGE=$BZIMAGE \
IPI_STEER_KSFT=${KSFT:+/cache/${KSFT#"$CACHE"/}} \
IPI_STEER_HDIR=${HDIR:+/cache/${HDIR#"$CACHE"/}} \
IN_ROOT_ENV="IPI_STEER_BOOT_WATCHDOG IPI_STEER_SILENCE_WATCHDOG IPI_STEER_TROUBLE_GRACE IPI_STEER_KDIR IPI_STEER_HDIR IPI_STEER_KO IPI_STEER_TRAFFIC IPI_STEER_BZIMAGE IPI_STEER_KSFT IPI_STEER_FAULT IPI_STEER_L1_TCG_THREAD IPI_STEER_L1_PATCHES" \
	in_root /src/scripts/vm.sh --inner --mode "$MODE" --name "$NAME" \
	--smp "$SMP" ${TOPO:+--topology "$TOPO"} --l1-smp "$L1_SMP" \
	$(for c in $L2_CPUS; do printf -- '--l2-cpu %s ' "$c"; done) \
	$(for t in $GUEST_TESTS; do printf -- '--guest-test %s ' "$t"; done) \
	$(for t in $HOST_TESTS; do printf -- '--host-test %s ' "$t"; done) \
	${APPEND:+--append "$APPEND"} --timeout "$TIMEOUT" --accel "$ACCEL" \
	--guest-kernel "$GUEST_KERNEL" \
	$(for e in $ENVS; do printf -- '--env %s ' "$e"; done) \
	| tr -d '\r' >"$LOG"

rc=0
"$TOP/scripts/summary.sh" "$MODE" "$LOG" "$GUEST_TESTS" "$HOST_TESTS" || rc=$?
if [ $rc = 1 ]; then
	mkdir -p "$LOGDIR/failed"
	cp "$LOG" "$LOGDIR/failed/$NAME-$(date +%Y%m%d-%H%M%S).log"
	echo "vm $NAME FAILED: log kept in build/logs/failed/" >&2
fi
exit $rc
