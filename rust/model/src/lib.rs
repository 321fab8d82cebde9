// SPDX-License-Identifier: GPL-2.0

//! Exhaustive interleaving models of ipi_steer's lock-free protocols.
//!
//! `check` is a small explicit-state model checker: breadth-first search over
//! every interleaving of atomic steps, with state hashing, shortest
//! counterexample traces and a cycle check.
//!
//! `system` is the posted-interrupt protocol: guest senders running
//! `ipi_core::posted::PostStep`, one target vCPU run by KVM (enter, guest
//! mode, block, put, load, migration), the pCPUs' pending notifications, the
//! fallback through KVM's own posted-interrupt sender, and the host
//! withdrawing the feature. Broken variants of both sides show that the
//! checker reports their violations.

pub mod check;
pub mod system;
