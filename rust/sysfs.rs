// SPDX-License-Identifier: GPL-2.0

//! The knobs under `/sys/kernel/ipi_steer/` (the kobject is in the C glue).
//!
//! Stores are serialized by the glue.  A store that is not valid returns
//! `-EINVAL` (`-ERANGE` for numbers out of range) and changes nothing; a
//! valid one publishes a new configuration snapshot.

use core::fmt::Write;

use kernel::ffi::c_long;
use kernel::ffi::c_uint;
use kernel::prelude::*;

use crate::calibrate::CalError;
use crate::calibration;
use crate::glue;
use crate::hint::HintError;
use crate::hypercall;
use crate::profile::Cost;
use crate::profile::HostAccel;
use crate::profile::Mode;
use crate::profile::Transport;
use crate::send::STATE;
use crate::state::State;
use crate::state::NR_STATS;
use crate::state::STAT_NAMES;

/// Largest cost a knob accepts (cycles); keeps modeled sums far from overflow.
pub(crate) const COST_MAX: u32 = 1_000_000_000;

/// The transports this module can send with, in the order `mode` lists them.
///
/// Each is listed only where the guest can use it: `tdvmcall` in a TD,
/// `posted` when the host accepted the module's region of descriptors.
pub(crate) const IMPLEMENTED: [Transport; 4] = [
    Transport::X2apicIcr,
    Transport::KvmHcSendIpi,
    Transport::TdVmCall,
    Transport::Posted,
];

/// Writes formatted text into a sysfs page.
struct PageWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for PageWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Returns the state while the module is loaded (always, while sysfs exists).
fn state() -> Option<&'static State> {
    let p = STATE.load(kernel::sync::atomic::Acquire);
    // SAFETY: sysfs is created after the state is published and removed
    // (waiting for running handlers) before it is freed.
    unsafe { p.as_ref() }
}

/// Tells whether the guest can use `t` and this module implements it.
fn usable(st: &State, t: Transport) -> bool {
    IMPLEMENTED.contains(&t) && st.config.read_serialized().config.features.available(t)
}

fn show(st: &State, attr: u32, w: &mut PageWriter<'_>) -> core::fmt::Result {
    let snap = st.config.read_serialized();
    match attr {
        glue::attr::MODE => {
            let cur = snap.config.mode;
            let item = |w: &mut PageWriter<'_>, name: &str, on: bool| {
                if on {
                    write!(w, "[{}] ", name)
                } else {
                    write!(w, "{} ", name)
                }
            };
            item(w, "auto", cur == Mode::Auto)?;
            for t in IMPLEMENTED {
                if usable(st, t) {
                    item(w, t.name(), cur == Mode::Forced(t))?;
                }
            }
            writeln!(w)
        }
        glue::attr::FEATURES => {
            let f = st.features;
            for (bit, name) in [
                (glue::F_KVM, "kvm"),
                (glue::F_PV_SEND_IPI, "pv_send_ipi"),
                (glue::F_PV_SCHED_YIELD, "pv_sched_yield"),
                (glue::F_X2APIC, "x2apic"),
                (glue::F_TDX_GUEST, "tdx_guest"),
                (glue::F_VENDOR_AMD, "amd"),
            ] {
                if f & bit != 0 {
                    write!(w, "{} ", name)?;
                }
            }
            writeln!(w)?;
            match snap.hint {
                Ok(h) => writeln!(
                    w,
                    "host_accel: {} (host hint, generation {})",
                    h.kind.name(),
                    h.generation
                )?,
                Err(HintError::NotAvailable) => writeln!(w, "host_accel: unknown (no host hint)")?,
                Err(HintError::Refused(e)) => {
                    writeln!(w, "host_accel: unknown (host hint refused: {})", e)?
                }
                Err(HintError::Unknown(v)) => writeln!(
                    w,
                    "host_accel: unknown (host hint not understood: {:#x})",
                    v
                )?,
            }
            match &st.posted {
                Ok(r) => writeln!(
                    w,
                    "posted_ipi: offered ({} slots, generation {})",
                    r.header().slots,
                    r.header().generation
                )?,
                Err(why) => writeln!(w, "posted_ipi: not offered ({})", why)?,
            }
            write!(w, "transports:")?;
            for t in IMPLEMENTED {
                if usable(st, t) {
                    write!(w, " {}", t.name())?;
                }
            }
            writeln!(w)
        }
        glue::attr::COSTS => {
            for t in IMPLEMENTED {
                if usable(st, t) {
                    let c = snap.config.costs.get(t);
                    writeln!(w, "{} {} {}", t.name(), c.per_op, c.per_target)?;
                }
            }
            Ok(())
        }
        glue::attr::CALIBRATION => {
            show_calibration(&snap.calibration, w)?;
            match (snap.hint, snap.calibration.result) {
                (Ok(h), _) => writeln!(w, "costs from: host hint ({})", h.kind.name()),
                (Err(_), Ok(_)) => writeln!(w, "costs from: calibration"),
                (Err(_), Err(_)) => writeln!(w, "costs from: published table"),
            }
        }
        #[cfg(CONFIG_IPI_STEER_FAULT_INJECTION)]
        glue::attr::FAULT_HYPERCALL => crate::fault::show(w),
        glue::attr::STATS => {
            for i in 0..NR_STATS {
                let name = STAT_NAMES.get(i).copied().unwrap_or("?");
                writeln!(w, "{} {}", name, st.stat_total(i))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn show_calibration(r: &calibration::Report, w: &mut PageWriter<'_>) -> core::fmt::Result {
    match r.result {
        Ok(_) => writeln!(w, "status: ok")?,
        Err(calibration::Error::NotRun) => return writeln!(w, "status: not run"),
        Err(calibration::Error::NoTargets) => writeln!(w, "status: error: no other online CPU")?,
        Err(calibration::Error::Fit(e)) => match e {
            CalError::TooNoisy {
                targets,
                spread_pct,
            } => writeln!(
                w,
                "status: error: too noisy at {} targets (spread {}%)",
                targets, spread_pct
            )?,
            CalError::TooFewSamples { targets } => {
                writeln!(w, "status: error: too few samples at {} targets", targets)?
            }
            CalError::TooFewPoints => writeln!(w, "status: error: too few target counts")?,
            _ => writeln!(w, "status: error: fit out of range")?,
        },
    }
    writeln!(
        w,
        "samples: {} per point; timer overhead: {} cycles",
        calibration::SAMPLES,
        r.overhead
    )?;
    for &(t, k, m) in r.medians.iter().take(r.points) {
        writeln!(w, "median {} {} targets: {} cycles", t.name(), k, m)?;
    }
    if let Ok(c) = r.result {
        for t in calibration::TIMED {
            let cost = c.get(t);
            writeln!(w, "fitted {} {} {}", t.name(), cost.per_op, cost.per_target)?;
        }
    }
    Ok(())
}

/// Parses a cost in cycles.
fn parse_cost(s: &str) -> Result<u32> {
    let v: u64 = s.parse().map_err(|_| EINVAL)?;
    let v = u32::try_from(v).map_err(|_| ERANGE)?;
    // A deliberately broken build (`IPI_STEER_FAULT=knob_invalid`) applies
    // out-of-range costs, to show that the knob tests notice.
    if v > COST_MAX && !cfg!(ipi_steer_fault = "knob_invalid") {
        return Err(ERANGE);
    }
    Ok(v)
}

fn store(st: &State, attr: u32, input: &str) -> Result {
    let cur = *st.config.read_serialized();
    let mut words = input.split_ascii_whitespace();
    match attr {
        glue::attr::MODE => {
            let (Some(name), None) = (words.next(), words.next()) else {
                return Err(EINVAL);
            };
            let mode = if name == "auto" {
                Mode::Auto
            } else {
                let t = Transport::from_name(name).ok_or(EINVAL)?;
                if !usable(st, t) {
                    return Err(EINVAL);
                }
                Mode::Forced(t)
            };
            let mut config = cur.config;
            config.mode = mode;
            let next = cur.with_config(config).map_err(|_| EINVAL)?;
            st.config.publish(next);
            Ok(())
        }
        glue::attr::COSTS => {
            let (Some(name), Some(op), Some(tgt), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(EINVAL);
            };
            let t = Transport::from_name(name).ok_or(EINVAL)?;
            if !usable(st, t) {
                return Err(EINVAL);
            }
            let cost = Cost {
                per_op: parse_cost(op)?,
                per_target: parse_cost(tgt)?,
            };
            let mut config = cur.config;
            config.costs.set(t, cost);
            let next = cur.with_config(config).map_err(|_| EINVAL)?;
            st.config.publish(next);
            Ok(())
        }
        glue::attr::RESET => {
            let (Some("1"), None) = (words.next(), words.next()) else {
                return Err(EINVAL);
            };
            st.reset_stats();
            Ok(())
        }
        glue::attr::CALIBRATION => {
            let (Some("1"), None) = (words.next(), words.next()) else {
                return Err(EINVAL);
            };
            // Ask the host again (its answer may have changed, e.g. after a
            // migration), then measure.
            let hint = hypercall::query_hint(st.features);
            let mut features = cur.config.features;
            features.host_accel = match hint {
                Ok(h) => h.kind.host_accel(),
                Err(_) => HostAccel::None,
            };
            let report = calibration::run(&features, &cur.config.costs);
            let mut next = cur;
            next.calibration = report;
            next.hint = hint;
            let failed = report.result.is_err() && hint.is_err();
            if !failed {
                let mut config = cur.config;
                config.features = features;
                config.costs = calibration::choose(&features, &hint, &report);
                // These costs always make a valid policy; if not, keep the
                // old table and only record the report.
                next = cur.with_config(config).map_err(|_| EINVAL)?;
                next.calibration = report;
                next.hint = hint;
            }
            st.config.publish(next);
            if failed {
                Err(EAGAIN)
            } else {
                Ok(())
            }
        }
        #[cfg(CONFIG_IPI_STEER_FAULT_INJECTION)]
        glue::attr::FAULT_HYPERCALL => crate::fault::store(input),
        _ => Err(EINVAL),
    }
}

/// sysfs show of attribute `attr` into `buf` (`len` bytes).
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn ipi_steer_sysfs_show(
    attr: c_uint,
    buf: *mut u8,
    len: usize,
) -> c_long {
    let Some(st) = state() else {
        return ENODEV.to_errno() as c_long;
    };
    // SAFETY: the glue passes the sysfs page and its size.
    let page = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    let mut w = PageWriter { buf: page, len: 0 };
    // A page holds every attribute; a full page just truncates.
    let _ = show(st, attr, &mut w);
    c_long::try_from(w.len).unwrap_or(0)
}

/// sysfs store of `len` bytes at `buf` into attribute `attr`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn ipi_steer_sysfs_store(
    attr: c_uint,
    buf: *const u8,
    len: usize,
) -> c_long {
    let Some(st) = state() else {
        return ENODEV.to_errno() as c_long;
    };
    // SAFETY: the glue passes the written bytes and their count.
    let bytes = unsafe { core::slice::from_raw_parts(buf, len) };
    let ret = match core::str::from_utf8(bytes) {
        Ok(s) => store(st, attr, s),
        Err(_) => Err(EINVAL),
    };
    match ret {
        Ok(()) => c_long::try_from(len).unwrap_or(c_long::MAX),
        Err(e) => e.to_errno() as c_long,
    }
}
