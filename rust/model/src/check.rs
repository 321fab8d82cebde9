// SPDX-License-Identifier: GPL-2.0

//! A small explicit-state model checker: breadth-first search over every
//! interleaving, with the visited states kept in a hash map.
//!
//! Breadth-first order makes every counterexample a shortest one. After the
//! search, a depth-first pass over the same graph looks for cycles: the models
//! here bound every source of repetition (preemptions, migrations, sends), so a
//! cycle would be a livelock the terminal-state checks cannot see.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::fmt;
use std::hash::Hash;

/// A transition system with its properties.
pub trait Model {
    /// One global state; equal states are explored once.
    type State: Clone + Eq + Hash + fmt::Display;
    /// What a transition did, for traces and step coverage.
    type Label: fmt::Display + Clone + Eq + Hash;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Appends every successor of `s`, one per enabled atomic step.
    fn next(&self, s: &Self::State, out: &mut Vec<(Self::Label, Self::State)>);

    /// Checks a property that must hold in every reachable state.
    fn check(&self, s: &Self::State) -> Result<(), String>;

    /// Checks a state in which no step is enabled.
    fn check_terminal(&self, s: &Self::State) -> Result<(), String>;
}

/// What a complete search found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Distinct reachable states.
    pub states: usize,
    /// Transitions explored (edges, including those into known states).
    pub transitions: usize,
    /// Reachable states with no enabled step.
    pub terminal: usize,
    /// Length of the longest shortest path from the initial state.
    pub depth: usize,
    /// How many transitions each kind of step labelled, by its printed label.
    pub coverage: HashMap<String, usize>,
}

/// A property violation with the shortest trace that reaches it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Which property failed, and how.
    pub what: String,
    /// The initial state, then one line per step: the step and the state after it.
    pub trace: Vec<String>,
    /// States explored before the violation was found.
    pub states: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "violation: {}", self.what)?;
        writeln!(
            f,
            "counterexample ({} steps):",
            self.trace.len().saturating_sub(1)
        )?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Where a state was first reached from.
struct Seen {
    index: u32,
    parent: u32,
}

/// Explores every reachable state of `m`, returning the counts or the first violation.
pub fn explore<M: Model>(m: &M) -> Result<Stats, Violation> {
    let init = m.init();
    let mut seen: HashMap<M::State, Seen> = HashMap::new();
    let mut frontier: VecDeque<(M::State, u32, usize)> = VecDeque::new();
    let mut stats = Stats::default();
    let mut succ = Vec::new();
    let mut coverage: HashMap<M::Label, usize> = HashMap::new();

    seen.insert(
        init.clone(),
        Seen {
            index: 0,
            parent: u32::MAX,
        },
    );
    frontier.push_back((init, 0, 0));
    while let Some((s, index, depth)) = frontier.pop_front() {
        stats.depth = stats.depth.max(depth);
        if let Err(what) = m.check(&s) {
            return Err(violation(m, &seen, index, what));
        }
        succ.clear();
        m.next(&s, &mut succ);
        if succ.is_empty() {
            stats.terminal += 1;
            if let Err(what) = m.check_terminal(&s) {
                return Err(violation(m, &seen, index, what));
            }
        }
        stats.transitions += succ.len();
        for (label, t) in succ.drain(..) {
            *coverage.entry(label).or_insert(0) += 1;
            if seen.contains_key(&t) {
                continue;
            }
            let Ok(next) = u32::try_from(seen.len()) else {
                return Err(Violation {
                    what: "more than 2^32 states".into(),
                    trace: Vec::new(),
                    states: seen.len(),
                });
            };
            seen.insert(
                t.clone(),
                Seen {
                    index: next,
                    parent: index,
                },
            );
            frontier.push_back((t, next, depth + 1));
        }
    }
    stats.states = seen.len();
    stats.coverage = coverage
        .into_iter()
        .map(|(l, n)| (l.to_string(), n))
        .collect();
    find_cycle(m, &seen)?;
    Ok(stats)
}

/// Rebuilds the shortest trace to the state numbered `at`.
fn violation<M: Model>(m: &M, seen: &HashMap<M::State, Seen>, at: u32, what: String) -> Violation {
    let mut by_index: Vec<Option<(&M::State, u32)>> = vec![None; seen.len()];
    for (s, e) in seen {
        if let Some(slot) = by_index.get_mut(e.index as usize) {
            *slot = Some((s, e.parent));
        }
    }
    let mut path = Vec::new();
    let mut i = at;
    while let Some(Some((s, parent))) = by_index.get(i as usize) {
        path.push(*s);
        i = *parent;
    }
    path.reverse();
    let mut trace = Vec::new();
    let mut succ = Vec::new();
    for (k, s) in path.iter().enumerate() {
        let Some(prev) = k.checked_sub(1).and_then(|p| path.get(p)) else {
            trace.push(format!("initial: {s}"));
            continue;
        };
        succ.clear();
        m.next(prev, &mut succ);
        let label = succ
            .iter()
            .find(|(_, t)| t == *s)
            .map_or_else(|| "?".to_string(), |(l, _)| l.to_string());
        trace.push(format!("{label:<34} -> {s}"));
    }
    Violation {
        what,
        trace,
        states: seen.len(),
    }
}

/// Looks for a cycle in the explored graph (iterative depth-first search).
fn find_cycle<M: Model>(m: &M, seen: &HashMap<M::State, Seen>) -> Result<(), Violation> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut colour = vec![WHITE; seen.len()];
    let index = |s: &M::State| seen.get(s).map_or(0, |e| e.index as usize);
    let mut stack: Vec<(u32, Vec<M::State>)> = Vec::new();
    let init = m.init();
    let mut succ = Vec::new();
    m.next(&init, &mut succ);
    let root = u32::try_from(index(&init)).unwrap_or(0);
    if let Some(c) = colour.get_mut(root as usize) {
        *c = GREY;
    }
    stack.push((root, succ.drain(..).map(|(_, t)| t).collect()));
    while let Some((_, pending)) = stack.last_mut() {
        let Some(t) = pending.pop() else {
            if let Some((done, _)) = stack.pop() {
                if let Some(c) = colour.get_mut(done as usize) {
                    *c = BLACK;
                }
            }
            continue;
        };
        let ti = index(&t);
        match colour.get(ti).copied() {
            Some(WHITE) => {
                if let Some(c) = colour.get_mut(ti) {
                    *c = GREY;
                }
                succ.clear();
                m.next(&t, &mut succ);
                let next = succ.drain(..).map(|(_, s)| s).collect();
                stack.push((u32::try_from(ti).unwrap_or(0), next));
            }
            Some(GREY) => {
                let at = u32::try_from(ti).unwrap_or(0);
                return Err(violation(
                    m,
                    seen,
                    at,
                    "livelock: a cycle of steps returns to this state".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads each incrementing a shared counter with a non-atomic
    /// read-then-write: the checker must find the lost update.
    struct Counter {
        atomic: bool,
    }

    #[derive(Clone, PartialEq, Eq, Hash, Debug)]
    struct Cs {
        shared: u8,
        pc: [u8; 2],
        local: [u8; 2],
    }

    impl fmt::Display for Cs {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl Model for Counter {
        type State = Cs;
        type Label = String;

        fn init(&self) -> Cs {
            Cs {
                shared: 0,
                pc: [0; 2],
                local: [0; 2],
            }
        }

        fn next(&self, s: &Cs, out: &mut Vec<(String, Cs)>) {
            for t in 0..2 {
                let mut n = s.clone();
                match (s.pc[t], self.atomic) {
                    (0, true) => {
                        n.shared += 1;
                        n.pc[t] = 2;
                    }
                    (0, false) => {
                        n.local[t] = s.shared;
                        n.pc[t] = 1;
                    }
                    (1, _) => {
                        n.shared = s.local[t] + 1;
                        n.pc[t] = 2;
                    }
                    _ => continue,
                }
                out.push((format!("t{t} step {}", s.pc[t]), n));
            }
        }

        fn check(&self, _: &Cs) -> Result<(), String> {
            Ok(())
        }

        fn check_terminal(&self, s: &Cs) -> Result<(), String> {
            if s.shared == 2 {
                Ok(())
            } else {
                Err(format!("lost update: counter is {}", s.shared))
            }
        }
    }

    #[test]
    fn finds_lost_update() {
        let v = explore(&Counter { atomic: false }).err();
        let v = v.as_ref().map(|v| (v.what.as_str(), v.trace.len()));
        assert_eq!(v, Some(("lost update: counter is 1", 5)));
        let s = explore(&Counter { atomic: true }).ok();
        let c = s
            .as_ref()
            .and_then(|s| s.coverage.get("t1 step 0").copied());
        assert_eq!(c, Some(2));
        assert_eq!(s.map(|s| (s.states, s.terminal)), Some((4, 1)));
    }

    /// A two-state ping-pong: the cycle check must report it.
    struct Loop;

    impl Model for Loop {
        type State = u8;
        type Label = &'static str;

        fn init(&self) -> u8 {
            0
        }

        fn next(&self, s: &u8, out: &mut Vec<(&'static str, u8)>) {
            out.push(("flip", 1 - *s));
        }

        fn check(&self, _: &u8) -> Result<(), String> {
            Ok(())
        }

        fn check_terminal(&self, _: &u8) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn finds_livelock() {
        let v = explore(&Loop).err().map(|v| v.what);
        assert!(v.is_some_and(|w| w.starts_with("livelock")));
    }
}
