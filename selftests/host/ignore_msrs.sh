#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Make L1's KVM ignore the guest's writes to MSRs it does not support
# (kvm.ignore_msrs, as some hosts are configured), so that L2's write of
# MSR_KVM_POSTED_IPI succeeds without the region being filled: ipi_steer
# must then see the empty header, withdraw and not post.
. /tests/ktap.sh

P=/sys/module/kvm/parameters
ktap_plan 2
ktap_check "kvm.report_ignored_msrs=N" sh -c "echo N >$P/report_ignored_msrs"
ktap_check "kvm.ignore_msrs=Y" sh -c "echo Y >$P/ignore_msrs && grep -q Y $P/ignore_msrs"
ktap_finish
