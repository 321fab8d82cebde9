// SPDX-License-Identifier: GPL-2.0

//! Pure-logic core of ipi_steer.
//!
//! This crate holds everything about sending an IPI that does not touch hardware:
//! the architectural encodings (x2APIC/xAPIC ICR, the `KVM_HC_SEND_IPI` window,
//! the TDX `TDVMCALL` register set, the posted-interrupt descriptor), the feature
//! profile and cost table, the planner that picks the cheapest mix of transports
//! for a target set, the stock kernel policy it is compared with, and the
//! calibration math that turns timing samples into costs.
//!
//! The kernel module mounts these files one by one with `#[path]`, so every file
//! refers to its siblings only as `super::<file>::Item` and depends on `core` alone.
//! There is no allocation, no floating point, no atomics and no panic path:
//! callers hand in the scratch and output buffers.

#![no_std]
#![forbid(unsafe_code)]

pub mod apic;
pub mod calibrate;
pub mod hint;
pub mod kvm;
pub mod plan;
pub mod posted;
pub mod profile;
pub mod sort;
pub mod stock;
pub mod tdx;
