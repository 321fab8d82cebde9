#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suite runs when the module loads; it must report
# every case passed.
. /tests/ktap.sh

ktap_header
dmesg -c >/dev/null
ktap_check "insmod ipi_steer (with its KUnit suite)" insmod /lib/modules/ipi_steer.ko
dmesg | grep -E '^\[[ 0-9.]+\] +(# |ok |not ok ).*' | sed 's/^\[[^]]*\] */# /' | grep -i -E 'ipi_steer|ok [0-9]' | head -20
res=$(dmesg | grep -o '# ipi_steer: pass:[0-9]* fail:[0-9]* skip:[0-9]* total:[0-9]*' | tail -n1)
echo "# $res"
pass=$(echo "$res" | sed -n 's/.*pass:\([0-9]*\).*/\1/p')
fail=$(echo "$res" | sed -n 's/.*fail:\([0-9]*\).*/\1/p')
ktap_check "KUnit suite ipi_steer ran (${pass:-0} passed)" test "${pass:-0}" -gt 0
ktap_check "KUnit suite ipi_steer: no failures (${fail:-?})" test "${fail:-1}" = 0
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
