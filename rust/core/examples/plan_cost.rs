// SPDX-License-Identifier: GPL-2.0

//! Runs one planning case many times, for `valgrind --tool=callgrind`.
//!
//! Usage: `plan_cost <dense|sparse|unsorted> <targets> <iterations> [steer|stock] [skylake|ipiv]`.
//!
//! `skylake` (the default) is a table where a window never costs more than one
//! ICR write, so the planner takes the greedy path; `ipiv` makes ICR writes cheap
//! enough that the full search runs.
//! `callgrind.sh` collects only inside `steer_once`/`stock_once` and divides by
//! the iteration count.

use core::hint::black_box;

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

#[inline(never)]
fn steer_once(policy: &Policy, ids: &mut [ApicId], out: &mut [Op], scratch: &mut [u64]) -> u64 {
    policy.plan(ids, out, scratch).map_or(0, |p| p.cost)
}

#[inline(never)]
fn stock_once(ids: &[ApicId]) -> u64 {
    // The same work as Linux minus the hypercall itself: build every window.
    let mut last = 0u64;
    let calls = stock::windows(ids, Vector::CALL_FUNCTION, |w| last ^= w.bitmap_low);
    calls ^ last
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: plan_cost <dense|sparse|unsorted> <targets> <iterations> [steer|stock] [skylake|ipiv]";
    let (Some(layout), Some(n), Some(iters)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let n: usize = n.parse().unwrap_or(0);
    let iters: u64 = iters.parse().unwrap_or(0);
    let which = args.get(4).map_or("steer", String::as_str);
    let Some(template) = common::layout(layout, n) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let config = Config {
        features: Features::KVM_X2APIC,
        costs: match args.get(5).map(String::as_str) {
            Some("ipiv") => Costs::SPR_IPIV,
            _ => Costs::SKYLAKE,
        },
        mode: Mode::Auto,
    };
    let Ok(policy) = Policy::new(&config) else {
        std::process::exit(1);
    };
    let mut ids = template.clone();
    let mut out = vec![Op::EMPTY; n];
    let mut scratch = vec![0u64; scratch_words(n)];
    let sorted_input = layout != "unsorted";
    let mut acc = 0u64;
    for _ in 0..iters {
        if !sorted_input {
            ids.copy_from_slice(&template);
        }
        acc ^= match which {
            "stock" => stock_once(black_box(&template)),
            _ => steer_once(
                black_box(&policy),
                black_box(&mut ids),
                &mut out,
                &mut scratch,
            ),
        };
    }
    println!("{layout} {n} {which} {acc}");
}
