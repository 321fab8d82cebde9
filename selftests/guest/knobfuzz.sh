#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# FUZZ_WRITES random, boundary and malformed writes to ipi_steer's knobs:
# first one writer, checking after every write that a rejected write changed
# nothing and an accepted one left a well-formed state; then three
# concurrent writers, checking the state is well formed at the end.
. /tests/ktap.sh

N=${FUZZ_WRITES:-1000}
K=/sys/kernel/ipi_steer
ktap_header
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
modes=$(tr -d '[]' <$K/mode)
t=$(head -n1 $K/costs | cut -d' ' -f1)

# A candidate value: valid words, boundary numbers, or random bytes.
value() {
	case $(($RANDOM % 12)) in
	0) set -- auto $modes; eval "echo \${$(($RANDOM % $# + 1))}" ;;
	1) echo "$t $RANDOM $RANDOM" ;;
	2) echo "$t 1000000000 0" ;;
	3) echo "$t 1000000001 0" ;;
	4) echo "$t 0 4294967295" ;;
	5) echo "$t -$RANDOM 1" ;;
	6) echo 1 ;;
	7) echo "$RANDOM" ;;
	8) head -c $(($RANDOM % 64 + 1)) /dev/urandom ;;
	9) echo "xapic tdvmcall posted" ;;
	10) echo "$t $RANDOM" ;;
	*) printf '%s\n\n' auto ;;
	esac
}
knob() { set -- mode costs reset; eval "echo \${$(($RANDOM % 3 + 1))}"; }

# Well formed: exactly one bracketed mode, every cost line "name n n".
well_formed() {
	[ "$(grep -o '\[[a-z0-9]*\]' $K/mode | wc -l)" = 1 ] &&
		! grep -Eqv '^[a-z0-9]+ [0-9]+ [0-9]+$' $K/costs
}

i=0 rejected=0 accepted=0 broken=0
while [ $i -lt "$N" ]; do
	f=$(knob)
	before=$(cat $K/mode $K/costs)
	value >/tmp/v
	if cat /tmp/v >"$K/$f" 2>/dev/null; then
		accepted=$((accepted + 1))
		well_formed || { broken=$((broken + 1)); echo "# broken after $f <- $(od -c /tmp/v | head -2)"; }
	else
		rejected=$((rejected + 1))
		[ "$(cat $K/mode $K/costs)" = "$before" ] ||
			{ broken=$((broken + 1)); echo "# changed by rejected $f <- $(od -c /tmp/v | head -2)"; }
	fi
	i=$((i + 1))
	# Say so now and then: the nested harness ends an L2 that stays
	# silent (see guest-init.sh), and 10,000 writes take minutes there.
	[ $((i % 500)) != 0 ] || echo "# $i writes so far"
done
echo "# single writer: $N writes, $accepted accepted, $rejected rejected"
ktap_check "single writer: $N writes ($accepted accepted, $rejected rejected), $broken broken" \
	test "$broken" = 0 -a "$rejected" -gt 0 -a "$accepted" -gt 0

fuzz() {
	j=0
	while [ $j -lt "$1" ]; do
		value >/tmp/v$2
		cat /tmp/v$2 >"$K/$(knob)" 2>/dev/null
		j=$((j + 1))
		[ "$2" != 3 ] || [ $((j % 500)) != 0 ] || echo "# writer 3: $j writes so far"
	done
}
fuzz $((N / 3)) 1 & p1=$!
fuzz $((N / 3)) 2 & p2=$!
fuzz $((N / 3)) 3
wait $p1 $p2
ktap_check "three concurrent writers ($((N / 3)) writes each): state well formed" well_formed
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
