#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: IPI exits and costs, the kernel's own paths against ipi_steer
# in every mode, same run, for several guest topologies, measured in nested
# L2 (Debian's stock cloud kernel, with the module built for it) and set
# beside the cost model's prediction.
#
#   make bench [BENCH_TOPOLOGIES="dense4 sparse6 dense8 wide"] [BENCH_OPS=100]
#   make bench ACCEL=kvm      the outermost VM (L1) on real KVM, for users
#                             with hardware virtualization (off by default)
#
# Topologies (L2's APIC ids, CPU 0 sends):
#   dense4   4 vCPUs, ids 0-3
#   sparse6  6 vCPUs in 2 sockets of 3 cores, ids 0-2 and 4-6
#   dense8   8 vCPUs, ids 0-7 (L1 gets 8 vCPUs too)
#   wide     6 vCPUs in 3 sockets of 64 cores, 2 present per socket:
#            ids 0, 1, 64, 65, 128, 129 -- 130 ids, more than one
#            hypercall window covers, so where the windows go matters
#            (QEMU's L2 machine allows at most 255 possible CPUs)
#
# Per topology: the exits test (every IPI kind, k = 1..N-1 targets, ICR
# writes and hypercalls per operation counted by L1's KVM), the send path
# and the round trip (sendcost, roundtrip).  Output in build/bench/:
# bench.csv (topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles), the logs'
# tables, and the report (markdown and SVG) when rust/sim's
# ipi-bench-report is available.

. "$(dirname "$0")/common.sh"

TOPOS=${BENCH_TOPOLOGIES:-dense4 sparse6 dense8 wide}
OPS=${BENCH_OPS:-100}
case "$OPS" in '' | *[!0-9]*) die "BENCH_OPS must be a number" ;; esac
OUT=$TOP/build/bench
mkdir -p "$OUT"

topo_args() {
	case "$1" in
	dense4) echo "--smp 4 --l1-smp 4" ;;
	sparse6) echo "--smp 6 --topology sockets=2,cores=3 --l1-smp 6" ;;
	dense8) echo "--smp 8 --l1-smp 8" ;;
	wide)
		echo "--smp 2 --topology sockets=3,cores=64,maxcpus=192 --l1-smp 6"
		for c in 1,0 1,1 2,0 2,1; do
			echo "--l2-cpu socket-id=${c%,*},core-id=${c#*,},thread-id=0"
		done
		;;
	*) die "unknown topology $1 (dense4 sparse6 dense8 wide)" ;;
	esac
}
for t in $TOPOS; do topo_args "$t" >/dev/null; done

(cd "$TOP/rust/sim" && cargo build --quiet --release --bins) || die "building rust/sim failed"
SIM=$TOP/rust/sim/target/release

failed=
echo "topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles" >"$OUT/bench.csv"
for t in $TOPOS; do
	# shellcheck disable=SC2046
	if ! "$TOP/scripts/vm.sh" --mode nested --name "bench-$t" --guest-kernel stock \
		$(topo_args "$t") --env EXITS_OPS="$OPS" --env EXITS_KINDS=resched,single,many \
		--guest-test exits --guest-test sendcost --guest-test roundtrip --timeout 5400; then
		failed="$failed $t"
		continue
	fi
	log=$TOP/build/logs/bench-$t.log
	ids=$(sed -n 's/^L2| # APIC ids: //p' "$log" | tail -n1 | xargs | tr ' ' ',')
	costs=$(sed -n 's/^L2| # costs: //p' "$log" | tail -n1 |
		tr ';' '\n' | awk 'NF == 3 { printf "%s%s=%s/%s", sep, $1, $2, $3; sep = "," }')
	ops=$(sed -n 's/^L2| # ops: //p' "$log" | tail -n1)
	"$SIM/ipi-predict" --apic-ids "$ids" --costs "$costs" >"$OUT/predicted-$t.csv"
	sed -n 's/^L2| # row: //p' "$log" | awk -v t="$t" -v ops="$ops" '
		NR == FNR { if (FNR > 1) { split($0, f, ","); p[f[1] "," f[2] "," f[3]] = f[4] "," f[5] }; next }
		{
			key = $2 "," $3 "," $1
			if (!(key in p)) next
			cyc = $8 > 0 ? sprintf("%.0f", $8 / ops) : ""
			printf "%s,%s,%s,%s,%.2f,%.2f,%s,%s\n", t, $2, $3, $1,
				$4 / ops, $5 / ops, p[key], cyc
		}' "$OUT/predicted-$t.csv" - >>"$OUT/bench.csv"
	grep -aE '^L2\| # (\||exits per|send path|round trip)' "$log" | sed 's/^L2| # //' \
		>"$OUT/bench-$t.md"
done

if [ -x "$SIM/ipi-bench-report" ]; then
	"$SIM/ipi-bench-report" --csv "$OUT/bench.csv" --out-dir "$OUT/report" ||
		die "the report failed"
	cat "$OUT/report/table.md"
fi
"$TOP/scripts/exits-predict.sh" $(for t in $TOPOS; do
	case " $failed " in *" $t "*) ;; *) echo "$TOP/build/logs/bench-$t.log" ;; esac
done) | grep -E '^==|cells' || failed="$failed prediction"
echo "bench: results in build/bench/"
[ -z "$failed" ] || die "bench: failed:$failed"
