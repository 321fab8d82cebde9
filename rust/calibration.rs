// SPDX-License-Identifier: GPL-2.0

//! Calibration: time each transport this guest can use, for a few target
//! counts, and turn the samples into costs with the core's robust fit.
//!
//! The timed IPIs carry the reschedule vector, whose handler does nothing
//! when there is nothing to schedule.  Each sample is one send with
//! interrupts off; the whole run is bounded by `SAMPLES` per point and at
//! most `MAX_POINTS` points per transport.  Too few CPUs or too noisy
//! samples give an error and leave the cost table as it was.

use crate::apic::ApicId;
use crate::apic::Vector;
use crate::calibrate;
use crate::calibrate::CalError;
use crate::calibrate::Limits;
use crate::calibrate::Point;
use crate::calibrate::Series;
use crate::glue;
use crate::glue::IrqGuard;
use crate::hint::HintError;
use crate::hint::HostHint;
use crate::hypercall;
use crate::kvm::KvmHcSendIpi;
use crate::profile::Costs;
use crate::profile::Features;
use crate::profile::Transport;
use crate::sort;
use crate::x2apic;

/// Samples per (transport, target count).
pub(crate) const SAMPLES: usize = 24;
/// Target counts timed, when the guest has that many other CPUs.
const COUNTS: [usize; 4] = [1, 2, 4, 8];
/// Most targets timed at once.
const MAX_TARGETS: usize = 8;

/// Why calibration gave no costs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Error {
    /// Never run.
    NotRun,
    /// No other online CPU to send to.
    NoTargets,
    /// The core's fit refused the samples.
    Fit(CalError),
}

/// The outcome of the last calibration, shown in sysfs.
#[derive(Clone, Copy)]
pub(crate) struct Report {
    /// The fitted costs, or why there are none.
    pub(crate) result: Result<Costs, Error>,
    /// Median cycles per point: (transport, target count, median).
    pub(crate) medians: [(Transport, u32, u64); 2 * COUNTS.len()],
    /// Number of valid entries in `medians`.
    pub(crate) points: usize,
    /// Median cycles of an empty timed region.
    pub(crate) overhead: u64,
}

impl Report {
    /// The report before any calibration.
    pub(crate) const NOT_RUN: Self = Self {
        result: Err(Error::NotRun),
        medians: [(Transport::X2apicIcr, 0, 0); 2 * COUNTS.len()],
        points: 0,
        overhead: 0,
    };
}

/// The transports calibration times; the others keep the table's costs.
pub(crate) const TIMED: [Transport; 2] = [Transport::X2apicIcr, Transport::KvmHcSendIpi];

/// Times one send of `vector` to `ids` by `t`; `None` if `t` cannot send it.
fn time_one(t: Transport, ids: &[ApicId]) -> Option<u64> {
    let irqs = IrqGuard::new();
    let hc = if t == Transport::KvmHcSendIpi {
        Some(KvmHcSendIpi::from_sorted(ids, Vector::RESCHEDULE).ok()?)
    } else {
        None
    };
    let t0 = glue::cycles();
    match hc {
        Some(hc) => {
            let _ = hypercall::send(&irqs, &hc);
        }
        None => x2apic::send(&irqs, ids, Vector::RESCHEDULE),
    }
    let t1 = glue::cycles();
    Some(t1.saturating_sub(t0))
}

/// Median cycles of an empty timed region.
fn overhead() -> u64 {
    let mut s = [0u64; SAMPLES];
    for slot in s.iter_mut() {
        let _irqs = IrqGuard::new();
        let t0 = glue::cycles();
        *slot = glue::cycles().saturating_sub(t0);
    }
    sort::sort(&mut s);
    s.get(SAMPLES / 2).copied().unwrap_or(0)
}

/// The cost table to use: the one for the host's answer when it gave one
/// (it knows whether ICR writes exit; timing in a guest may not), else the
/// calibrated costs, else the published Skylake figures.  Where the host
/// shares posted-interrupt descriptors its notifications trap (layout
/// version 1), so posting costs what the ICR write costs.
pub(crate) fn choose(
    features: &Features,
    hint: &Result<HostHint, HintError>,
    report: &Report,
) -> Costs {
    let costs = match (hint, report.result) {
        (Ok(h), _) => h.kind.costs(),
        (Err(_), Ok(c)) => c,
        (Err(_), Err(_)) => Costs::SKYLAKE,
    };
    if features.posted_ipi {
        costs.with_trapped_notifications()
    } else {
        costs
    }
}

/// Calibrates the transports `features` allows, starting from `costs`.
///
/// Process context; sends a few hundred reschedule IPIs to other CPUs.
pub(crate) fn run(features: &Features, costs: &Costs) -> Report {
    let mut report = Report::NOT_RUN;
    let mut ids = [ApicId(0); MAX_TARGETS];
    let n = glue::other_online_apicids(&mut ids);
    let Some(ids) = ids.get_mut(..n) else {
        report.result = Err(Error::NoTargets);
        return report;
    };
    if ids.is_empty() {
        report.result = Err(Error::NoTargets);
        return report;
    }
    sort::sort(ids);
    report.overhead = overhead();

    let transports = TIMED;
    let mut samples = [[[0u64; SAMPLES]; COUNTS.len()]; 2];
    let mut used = [0usize; 2];
    for (ti, &t) in transports.iter().enumerate() {
        if !features.available(t) {
            continue;
        }
        for (ci, &k) in COUNTS.iter().enumerate() {
            let Some(targets) = ids.get(..k) else { break };
            let Some(slots) = samples.get_mut(ti).and_then(|s| s.get_mut(ci)) else {
                break;
            };
            let mut ok = true;
            for slot in slots.iter_mut() {
                match time_one(t, targets) {
                    Some(c) => *slot = c,
                    None => ok = false,
                }
            }
            if !ok {
                break;
            }
            if let Some(u) = used.get_mut(ti) {
                *u = ci + 1;
            }
        }
    }

    // Medians for the report (on copies: the fit sorts its own samples).
    for (ti, &t) in transports.iter().enumerate() {
        for ci in 0..used.get(ti).copied().unwrap_or(0) {
            let Some(s) = samples.get(ti).and_then(|s| s.get(ci)) else {
                continue;
            };
            let mut copy = *s;
            sort::sort(&mut copy);
            let k = COUNTS.get(ci).copied().unwrap_or(0) as u32;
            if let Some(slot) = report.medians.get_mut(report.points) {
                *slot = (t, k, copy.get(SAMPLES / 2).copied().unwrap_or(0));
                report.points += 1;
            }
        }
    }

    let [x2, hc] = &mut samples;
    let mut x2_points = x2.each_mut().map(|s| Point {
        targets: 0,
        samples: s,
    });
    let mut hc_points = hc.each_mut().map(|s| Point {
        targets: 0,
        samples: s,
    });
    for (ci, &k) in COUNTS.iter().enumerate() {
        if let Some(p) = x2_points.get_mut(ci) {
            p.targets = k as u32;
        }
        if let Some(p) = hc_points.get_mut(ci) {
            p.targets = k as u32;
        }
    }
    let mut series_buf = [
        Series {
            transport: Transport::X2apicIcr,
            points: x2_points.get_mut(..used[0]).unwrap_or(&mut []),
        },
        Series {
            transport: Transport::KvmHcSendIpi,
            points: hc_points.get_mut(..used[1]).unwrap_or(&mut []),
        },
    ];
    let mut series_n = 0;
    // Keep only the transports that were timed, in order.
    for i in 0..series_buf.len() {
        if !series_buf[i].points.is_empty() {
            series_buf.swap(series_n, i);
            series_n += 1;
        }
    }
    let mut next = *costs;
    report.result = match calibrate::calibrate(
        &mut next,
        series_buf.get_mut(..series_n).unwrap_or(&mut []),
        report.overhead,
        &Limits::DEFAULT,
    ) {
        Ok(c) => Ok(c),
        Err(e) => Err(Error::Fit(e)),
    };
    report
}
