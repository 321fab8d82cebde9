// SPDX-License-Identifier: GPL-2.0

//! ipi_steer: send every IPI of a KVM guest through its cheapest transport.
//!
//! At load the module reads the features the guest sees, derives a policy
//! from them and a cost table, and installs its own reschedule,
//! call-function-single and call-function paths in `smp_ops` under
//! `stop_machine()`.  Each IPI is then planned by the shared core (the very
//! files `rust/core` tests in userspace) and sent by x2APIC ICR writes,
//! `KVM_HC_SEND_IPI` hypercalls, in a TDX guest direct `TDVMCALL`s, and, on a
//! host that shares the vCPUs' posted-interrupt descriptors, posted writes.
//! At unload the kernel's paths are restored the same way, the module waits
//! until no CPU can still run its code, and then withdraws the descriptors.

use kernel::prelude::*;
use kernel::sync::atomic::Release;

// The shared core, compiled from the files the userspace tests use.
#[path = "core/src/apic.rs"]
pub mod apic;
#[path = "core/src/calibrate.rs"]
pub mod calibrate;
#[path = "core/src/hint.rs"]
pub mod hint;
#[path = "core/src/kvm.rs"]
pub mod kvm;
#[path = "core/src/plan.rs"]
pub mod plan;
#[path = "core/src/posted.rs"]
pub mod posted;
#[path = "core/src/profile.rs"]
pub mod profile;
#[path = "core/src/sort.rs"]
pub mod sort;
#[path = "core/src/stock.rs"]
pub mod stock;
#[path = "core/src/tdx.rs"]
pub mod tdx;

mod calibration;
#[cfg(CONFIG_IPI_STEER_FAULT_INJECTION)]
mod fault;
#[path = "glue_ffi.rs"]
mod glue;
mod hypercall;
#[cfg(CONFIG_IPI_STEER_KUNIT_TEST)]
mod kunit;
mod posted_ipi;
mod send;
mod state;
mod sysfs;
mod tdvmcall;
mod x2apic;

use profile::ApicMode;
use profile::Config;
use profile::Costs;
use profile::Features;
use profile::HostAccel;
use profile::Mode;
use state::Snapshot;
use state::State;

module! {
    type: IpiSteer,
    name: "ipi_steer",
    authors: ["ipi_steer developers"],
    description: "Send each IPI of a KVM guest through its cheapest transport",
    license: "GPL",
}

/// The loaded module: owns the state the installed IPI paths use.
struct IpiSteer {
    state: KBox<State>,
}

/// The core's feature profile for the raw `glue::F_*` bits.
fn profile_of(f: u32) -> Features {
    Features {
        apic_mode: if f & glue::F_X2APIC != 0 {
            ApicMode::X2apic
        } else {
            ApicMode::Xapic
        },
        pv_send_ipi: f & glue::F_PV_SEND_IPI != 0,
        pv_sched_yield: f & glue::F_PV_SCHED_YIELD != 0,
        // Set only in a TD: the kernel's X86_FEATURE_TDX_GUEST.
        tdx: f & glue::F_TDX_GUEST != 0,
        host_accel: HostAccel::None,
        // Set once the host accepted a region of descriptors
        // (`posted_ipi::Region::register`).
        posted_ipi: false,
    }
}

impl kernel::Module for IpiSteer {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let f = glue::features();
        if f & glue::F_X2APIC == 0 && f & glue::F_PV_SEND_IPI == 0 {
            pr_err!("refusing to load: xAPIC mode without KVM PV_SEND_IPI, nothing to gain over the kernel\n");
            return Err(ENODEV);
        }
        let saved = glue::get_ops();
        if !saved.complete() {
            pr_err!("refusing to load: smp_ops has no IPI paths to take over\n");
            return Err(ENODEV);
        }
        let hint = hypercall::query_hint(f);
        let mut features = profile_of(f);
        if let Ok(h) = hint {
            features.host_accel = h.kind.host_accel();
        }
        // Guest posted IPIs: only a host whose VMM opted this VM in accepts
        // the region (docs/ABI/kvm-posted-ipi); anywhere else the MSR write
        // is refused and IPIs go by the other transports.
        let posted = posted_ipi::Region::register(&features);
        match &posted {
            Ok(r) => pr_info!(
                "posted IPIs: offered by the host ({} slots, generation {})\n",
                r.header().slots,
                r.header().generation
            ),
            Err(why) => pr_info!("posted IPIs: not offered: {}\n", why),
        }
        features.posted_ipi = posted.is_ok();
        // Costs: from the host's answer when it gives one, else calibrated in
        // this guest if the samples allow, else the published table (see the
        // `calibration` knob).
        let report = calibration::run(&features, &Costs::SKYLAKE);
        let config = Config {
            features,
            costs: calibration::choose(&features, &hint, &report),
            mode: Mode::Auto,
        };
        let first =
            Snapshot::new(config, f & glue::F_PV_SCHED_YIELD != 0, report, hint).map_err(|_| {
                pr_err!("refusing to load: no usable IPI transport\n");
                ENODEV
            })?;
        let state = KBox::new(
            State::new(f, saved, first, glue::nr_cpu_ids(), posted)?,
            GFP_KERNEL,
        )?;
        send::STATE.store(&*state as *const State, Release);

        if let Err(e) = glue::sysfs_init() {
            send::STATE.store(core::ptr::null(), Release);
            return Err(e);
        }
        if let Err(e) = glue::swap_ops(&send::OPS, Some(&saved)) {
            pr_err!(
                "refusing to load: smp_ops changed while installing ({:?})\n",
                e
            );
            glue::sysfs_exit();
            send::STATE.store(core::ptr::null(), Release);
            return Err(e);
        }
        pr_info!(
            "loaded; features:{}{}{}{}{}{}; steering reschedule, call-function and call-function-single IPIs\n",
            flag(f, glue::F_KVM, " kvm"),
            flag(f, glue::F_PV_SEND_IPI, " pv_send_ipi"),
            flag(f, glue::F_PV_SCHED_YIELD, " pv_sched_yield"),
            flag(f, glue::F_X2APIC, " x2apic"),
            flag(f, glue::F_TDX_GUEST, " tdx_guest"),
            flag(f, glue::F_VENDOR_AMD, " amd"),
        );
        Ok(IpiSteer { state })
    }
}

/// `name` when `bit` is set in `features`, `""` otherwise.
fn flag(features: u32, bit: u32, name: &'static str) -> &'static str {
    if features & bit != 0 {
        name
    } else {
        ""
    }
}

impl Drop for IpiSteer {
    fn drop(&mut self) {
        glue::sysfs_exit();
        // Restore whatever we replaced, even if someone changed smp_ops
        // after us: module text is about to go away.
        match glue::swap_ops(&self.state.saved, Some(&send::OPS)) {
            Ok(_) => {}
            Err(_) => {
                pr_warn!(
                    "smp_ops changed while ipi_steer was loaded; restoring the kernel's paths\n"
                );
                let _ = glue::swap_ops(&self.state.saved, None);
            }
        }
        // Every caller of the old paths runs with preemption or interrupts
        // off: after a grace period none can still be in module code.
        glue::synchronize();
        send::STATE.store(core::ptr::null(), Release);
        pr_info!("unloaded\n");
    }
}
