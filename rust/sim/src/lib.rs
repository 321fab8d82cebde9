// SPDX-License-Identifier: GPL-2.0

//! Shared code of the simulator's binaries.

pub mod svg;
