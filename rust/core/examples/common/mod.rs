// SPDX-License-Identifier: GPL-2.0

//! Inputs shared by the benchmark examples.

#![allow(dead_code, reason = "each example uses part of it")]

use ipi_core::apic::ApicId;

/// Returns `n` APIC ids in CPU order for a layout name.
///
/// - `dense`: ids 0, 1, 2, ...
/// - `sparse`: 24 cores per socket, SMT siblings at odd ids, sockets 64 ids apart
///   (id = socket * 64 + core * 2), first threads only, so windows break often.
/// - `unsorted`: the sparse layout, SMT siblings numbered after every first thread.
pub(crate) fn layout(name: &str, n: usize) -> Option<Vec<ApicId>> {
    let sparse = |i: usize| {
        let socket = i / 24;
        let core = i % 24;
        u32::try_from(socket.checked_mul(64)?.checked_add(core.checked_mul(2)?)?).ok()
    };
    let ids: Option<Vec<u32>> = match name {
        "dense" => (0..n).map(|i| u32::try_from(i).ok()).collect(),
        "sparse" => (0..n).map(sparse).collect(),
        "unsorted" => {
            let half = n.div_ceil(2);
            let mut v: Vec<Option<u32>> = (0..half).map(sparse).collect();
            v.extend((0..n.saturating_sub(half)).map(|i| sparse(i).and_then(|x| x.checked_add(1))));
            v.into_iter().collect()
        }
        _ => None,
    };
    ids.map(|v| v.into_iter().map(ApicId).collect())
}
