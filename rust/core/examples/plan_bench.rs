// SPDX-License-Identifier: GPL-2.0

//! Wall-clock time per plan, as a ratio to the stock policy run in the same
//! process on the same input (timings on a shared or emulated machine are only
//! meaningful as ratios).
//!
//! Usage: `plan_bench [milliseconds per measurement]` (default 100).

#![allow(
    clippy::float_arithmetic,
    clippy::cast_precision_loss,
    reason = "a userspace timing harness, not part of the core"
)]

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::plan::scratch_words;
use ipi_core::plan::Op;
use ipi_core::plan::Policy;
use ipi_core::profile::Config;
use ipi_core::profile::Costs;
use ipi_core::profile::Features;
use ipi_core::profile::Mode;
use ipi_core::stock;

mod common;

/// Runs `f` repeatedly for about `budget`; returns nanoseconds per call.
fn time(budget: Duration, mut f: impl FnMut() -> u64) -> f64 {
    let mut iters: u64 = 0;
    let mut acc = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..64 {
            acc ^= f();
        }
        iters = iters.saturating_add(64);
    }
    black_box(acc);
    let ns = start.elapsed().as_secs_f64() * 1e9;
    ns / iters.max(1) as f64
}

fn main() {
    let ms: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let budget = Duration::from_millis(ms);
    println!("| layout | targets | table | ipi_steer ns/plan | stock ns/call | ratio |");
    println!("|---|---:|---|---:|---:|---:|");
    for layout in ["dense", "sparse", "unsorted"] {
        for n in [1usize, 8, 64, 256, 1024] {
            for (table, costs) in [("skylake", Costs::SKYLAKE), ("ipiv", Costs::SPR_IPIV)] {
                let Some(template) = common::layout(layout, n) else {
                    continue;
                };
                let Ok(policy) = Policy::new(&Config {
                    features: Features::KVM_X2APIC,
                    costs,
                    mode: Mode::Auto,
                }) else {
                    continue;
                };
                let mut ids: Vec<ApicId> = template.clone();
                let mut out = vec![Op::EMPTY; n];
                let mut scratch = vec![0u64; scratch_words(n)];
                let sorted_input = layout != "unsorted";
                let steer = time(budget, || {
                    if !sorted_input {
                        ids.copy_from_slice(&template);
                    }
                    policy
                        .plan(black_box(&mut ids), &mut out, &mut scratch)
                        .map_or(0, |p| p.cost)
                });
                let stock = time(budget, || {
                    let mut last = 0u64;
                    let calls = stock::windows(black_box(&template), Vector::CALL_FUNCTION, |w| {
                        last ^= w.bitmap_low;
                    });
                    calls ^ last
                });
                println!(
                    "| {layout} | {n} | {table} | {steer:.1} | {stock:.1} | {:.2} |",
                    steer / stock
                );
            }
        }
    }
}
