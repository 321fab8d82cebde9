// SPDX-License-Identifier: GPL-2.0

//! ipi_steer: send every IPI of a KVM guest through its cheapest transport.
//!
//! This is the loadable skeleton: it reports the IPI-relevant features the
//! guest sees and unloads cleanly.

use kernel::prelude::*;

mod glue {
    //! Declarations of the C glue (rust/glue.h).

    /// The guest runs on KVM (signature in the hypervisor CPUID leaves).
    pub(crate) const F_KVM: u32 = 1 << 0;
    /// KVM_FEATURE_PV_SEND_IPI is exposed.
    pub(crate) const F_PV_SEND_IPI: u32 = 1 << 1;
    /// KVM_FEATURE_PV_SCHED_YIELD is exposed.
    pub(crate) const F_PV_SCHED_YIELD: u32 = 1 << 2;
    /// The local APIC is in x2APIC mode.
    pub(crate) const F_X2APIC: u32 = 1 << 3;
    /// The guest is a TDX trust domain.
    pub(crate) const F_TDX_GUEST: u32 = 1 << 4;
    /// The CPU vendor is AMD or Hygon (hypercalls use vmmcall).
    pub(crate) const F_VENDOR_AMD: u32 = 1 << 5;

    extern "C" {
        /// Returns the `IPI_STEER_F_*` mask; safe in any context.
        pub(crate) fn ipi_steer_glue_features() -> u32;
    }
}

module! {
    type: IpiSteer,
    name: "ipi_steer",
    authors: ["ipi_steer developers"],
    description: "Send each IPI of a KVM guest through its cheapest transport",
    license: "GPL",
}

struct IpiSteer;

/// `" name"` when `bit` is set in `features`, `""` otherwise.
fn flag(features: u32, bit: u32, name: &'static str) -> &'static str {
    if features & bit != 0 {
        name
    } else {
        ""
    }
}

impl kernel::Module for IpiSteer {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: the glue function has no preconditions.
        let f = unsafe { glue::ipi_steer_glue_features() };
        pr_info!(
            "loaded; features:{}{}{}{}{}{}\n",
            flag(f, glue::F_KVM, " kvm"),
            flag(f, glue::F_PV_SEND_IPI, " pv_send_ipi"),
            flag(f, glue::F_PV_SCHED_YIELD, " pv_sched_yield"),
            flag(f, glue::F_X2APIC, " x2apic"),
            flag(f, glue::F_TDX_GUEST, " tdx_guest"),
            flag(f, glue::F_VENDOR_AMD, " amd"),
        );
        Ok(IpiSteer)
    }
}

impl Drop for IpiSteer {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
