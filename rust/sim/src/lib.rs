// SPDX-License-Identifier: GPL-2.0

//! Shared code of the simulator's binaries: the SVG plot and the benchmark
//! report.

pub mod report;
pub mod svg;
