// SPDX-License-Identifier: GPL-2.0

//! Exhaustive interleaving models of ipi_steer's lock-free protocols.
//!
//! `check` is a small explicit-state model checker: breadth-first search over
//! every interleaving of atomic steps, with state hashing, shortest
//! counterexample traces and a cycle check.

pub mod check;
