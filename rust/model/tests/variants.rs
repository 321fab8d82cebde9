// SPDX-License-Identifier: GPL-2.0

//! The protocol as written passes every configuration; each deliberately
//! broken sender or host is caught with a counterexample; the two mistakes
//! that KVM's behaviour makes harmless are shown to be harmless.

use std::collections::HashMap;

use ipi_model::check::explore;
use ipi_model::check::Violation;
use ipi_model::system::Config;
use ipi_model::system::HostBug;
use ipi_model::system::SenderBug;
use ipi_model::system::System;
use ipi_model::system::CONFIGS;

/// Explores every standard configuration with the given bugs; returns the
/// first violation, or the step coverage summed over all configurations.
fn explore_all(
    sender_bug: SenderBug,
    host_bug: HostBug,
) -> Result<HashMap<String, usize>, Violation> {
    let mut coverage = HashMap::new();
    for c in CONFIGS {
        let config = Config {
            sender_bug,
            host_bug,
            ..c
        };
        let stats = explore(&System { config })?;
        println!(
            "{}: {} states, {} transitions",
            config.name, stats.states, stats.transitions
        );
        for (label, n) in stats.coverage {
            *coverage.entry(label).or_insert(0) += n;
        }
    }
    Ok(coverage)
}

/// Asserts that the bugs are caught, as a violation starting with `what`.
fn caught(sender_bug: SenderBug, host_bug: HostBug, what: &str) {
    match explore_all(sender_bug, host_bug) {
        Ok(_) => panic!("{sender_bug:?}/{host_bug:?}: no violation found"),
        Err(v) => {
            println!("{v}");
            assert!(v.what.starts_with(what), "{sender_bug:?}/{host_bug:?}: {v}");
            assert!(v.trace.len() > 2, "{v}");
        }
    }
}

/// Asserts that no violation exists with these bugs.
fn harmless(sender_bug: SenderBug, host_bug: HostBug) {
    if let Err(v) = explore_all(sender_bug, host_bug) {
        panic!("{sender_bug:?}/{host_bug:?}: {v}");
    }
}

#[test]
fn protocol_holds_and_every_step_is_taken() {
    let coverage = match explore_all(SenderBug::None, HostBug::None) {
        Ok(c) => c,
        Err(v) => panic!("{v}"),
    };
    // Every branch of PostStep and of KVM's side is reached somewhere.
    for label in [
        "sender0: start (read offered)",
        "sender0: set PIR bit (was set)",
        "sender0: set ON (was clear)",
        "sender0: ON not set: ON already set",
        "sender0: ON not set: SN set, PIR left to pi_load",
        "sender0: notify: send POSTED_INTR_VECTOR",
        "sender0: notify: send WAKEUP_VECTOR",
        "sender0: notify: ICR write trapped, KVM triggers",
        "sender0: fallback (SN): KVM sets PIR bit",
        "sender0: fallback (SN): KVM finds PIR bit set",
        "sender0: fallback (absent): KVM sets PIR bit",
        "sender0: KVM: set ON (was set)",
        "sender0: KVM: IN_GUEST_MODE, send POSTED_INTR_VECTOR",
        "sender0: KVM: not in guest, kvm_vcpu_wake_up",
        "vcpu: posted-interrupt processing: clear ON",
        "vcpu: exit on WAKEUP_VECTOR, pi_wakeup_handler",
        "vcpu: schedule: sleep, pi_put",
        "vcpu: schedule: woken, loop",
        "vcpu: preempted before check: pi_put",
        "vcpu: preempted before schedule: pi_put",
        "vcpu: sched in, pi_load(cpu1)",
        "cpu0: host irq WAKEUP_VECTOR: pi_wakeup_handler",
        "cpu1: host irq WAKEUP_VECTOR: pi_wakeup_handler",
        "cpu0: host irq POSTED_INTR_VECTOR (nothing to do)",
    ] {
        assert!(coverage.contains_key(label), "never taken: {label}");
    }
}

#[test]
fn sender_setting_on_before_pir_loses() {
    caught(SenderBug::OnBeforePir, HostBug::None, "lost interrupt");
}

#[test]
fn sender_notifying_with_stale_nv_ndst_strands() {
    caught(
        SenderBug::StaleControl,
        HostBug::None,
        "stranded notification",
    );
}

#[test]
fn sender_falling_back_after_pir_duplicates() {
    caught(
        SenderBug::FallbackAfterPir,
        HostBug::None,
        "duplicated interrupt",
    );
}

#[test]
fn sender_skipping_wakeup_notification_loses() {
    caught(
        SenderBug::WakeupMeansAsleep,
        HostBug::None,
        "lost interrupt",
    );
}

#[test]
fn host_without_wakeup_vector_loses() {
    caught(SenderBug::None, HostBug::NoWakeupVector, "lost interrupt");
}

#[test]
fn host_put_without_on_recheck_loses() {
    caught(SenderBug::None, HostBug::NoOnRecheck, "lost interrupt");
}

#[test]
fn host_load_without_pir_scan_loses() {
    caught(SenderBug::None, HostBug::LoadSkipsPir, "lost interrupt");
}

#[test]
fn host_load_without_ndst_update_strands() {
    caught(SenderBug::None, HostBug::StaleNdst, "stranded notification");
}

#[test]
fn host_suppressing_a_blocked_vcpu_loses() {
    caught(SenderBug::None, HostBug::SnWhenBlocking, "lost interrupt");
}

#[test]
fn host_dropping_trapped_notifications_strands() {
    caught(
        SenderBug::None,
        HostBug::WithdrawDropsNotify,
        "stranded notification",
    );
}

#[test]
fn sender_ignoring_sn_is_harmless_against_kvm() {
    // KVM's own sender sets ON through SN too; SN only ever marks a runnable
    // vCPU, whose load moves the PIR to ON. The fallback on SN is a choice.
    harmless(SenderBug::IgnoreSn, HostBug::None);
}

#[test]
fn host_forgetting_sn_is_harmless() {
    // SN only saves spurious notifications: without it senders notify a pCPU
    // that runs something else, and the next entry syncs the PIR anyway.
    harmless(SenderBug::None, HostBug::NoSn);
}

#[test]
fn kvm_alone_needs_the_wakeup_path_too() {
    // No guest posting at all: every send is KVM's own posted-interrupt
    // delivery. With the wakeup path it holds; without it (vmx_vcpu_pi_put()
    // returning early, as when vmx_needs_pi_wakeup() is false) a vCPU that is
    // preempted and migrated between its block check and schedule() has its
    // PIR moved to ON by vmx_vcpu_pi_load(), the sender then finds ON set and
    // skips the wake-up, and the vCPU sleeps on a pending vector.
    let kvm_only = |host_bug| Config {
        offered: false,
        withdraw: false,
        host_bug,
        ..Config::new("KVM's sender only", [&[0], &[]])
    };
    if let Err(v) = explore(&System {
        config: kvm_only(HostBug::None),
    }) {
        panic!("{v}");
    }
    let v = explore(&System {
        config: kvm_only(HostBug::NoWakeupVector),
    })
    .err();
    let Some(v) = v else {
        panic!("no violation without the wakeup path");
    };
    println!("{v}");
    assert!(v.what.starts_with("lost interrupt"), "{v}");
    assert!(v.trace.iter().any(|l| l.contains("pi_load(cpu1)")), "{v}");
}
