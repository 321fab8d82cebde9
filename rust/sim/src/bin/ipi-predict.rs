// SPDX-License-Identifier: GPL-2.0

//! ipi-predict: the exits per operation the cost model predicts for the rows
//! of the guest `exits` test (selftests/guest/exits.sh), for a guest whose
//! APIC ids are given in CPU order.
//!
//! The test sends from CPU 0 to CPUs 1..=k, one operation being
//!
//! - `resched`, `single`: one unicast IPI to each of the k targets;
//! - `many`: `smp_call_function_many()` to all k at once, which the kernel
//!   sends as a unicast (call-function-single) IPI when k is 1, and through
//!   `smp_ops.send_call_func_ipi()` otherwise.
//!
//! and the columns are the kernel's own paths (`stock`: x2APIC ICR write for
//! a unicast, the all-but-self shorthand for every other CPU, else Linux's
//! `KVM_HC_SEND_IPI` windows) and ipi_steer in `auto` mode (which hands the
//! all-but-self case to the kernel's shorthand when its plan would exit at
//! all) and with each transport forced.  Prints CSV lines
//! `kind,k,mode,icr,hc`: x2APIC ICR writes and hypercalls per operation.

use std::process::ExitCode;

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::plan::scratch_words;
use ipi_core::plan::Op;
use ipi_core::plan::Plan;
use ipi_core::plan::Policy;
use ipi_core::profile::Config;
use ipi_core::profile::Cost;
use ipi_core::profile::Costs;
use ipi_core::profile::Features;
use ipi_core::profile::Mode;
use ipi_core::profile::Transport;
use ipi_core::stock;

const USAGE: &str = "\
usage: ipi-predict --apic-ids ID,ID,... [--costs T=OP/TARGET,...]
                   [--kinds resched,single,many] [--modes stock,auto,x2apic,hypercall]
  --apic-ids   the guest's APIC ids in CPU order (CPU 0 sends)
  --costs      cost overrides on the Skylake table, e.g.
               x2apic=4238/0,hypercall=4088/150 (what the exits test pins)
prints kind,k,mode,icr,hc per operation for a KVM guest in x2APIC mode with
PV_SEND_IPI and no IPI acceleration in the host";

/// Command-line options.
struct Opts {
    ids: Vec<ApicId>,
    costs: Costs,
    kinds: Vec<String>,
    modes: Vec<String>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_costs(spec: &str) -> Result<Costs, String> {
    let mut costs = Costs::SKYLAKE;
    for item in spec.split(',').filter(|w| !w.is_empty()) {
        let (name, v) = item
            .split_once('=')
            .ok_or_else(|| format!("cost {item}: expected T=OP/TARGET"))?;
        let (op, tgt) = v
            .split_once('/')
            .ok_or_else(|| format!("cost {item}: expected T=OP/TARGET"))?;
        let t = Transport::from_name(name).ok_or_else(|| format!("unknown transport {name}"))?;
        let num = |x: &str| x.parse::<u32>().map_err(|e| format!("cost {item}: {e}"));
        costs.set(
            t,
            Cost {
                per_op: num(op)?,
                per_target: num(tgt)?,
            },
        );
    }
    Ok(costs)
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        ids: Vec::new(),
        costs: Costs::SKYLAKE,
        kinds: list("resched,single,many"),
        modes: list("stock,auto,x2apic,hypercall"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--apic-ids" => {
                o.ids = val()?
                    .split(',')
                    .map(|x| x.trim().parse::<u32>().map(ApicId))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--apic-ids: {e}"))?;
            }
            "--costs" => o.costs = parse_costs(&val()?)?,
            "--kinds" => o.kinds = list(&val()?),
            "--modes" => o.modes = list(&val()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if o.ids.len() < 2 {
        return Err(format!("--apic-ids needs at least 2 ids\n{USAGE}"));
    }
    Ok(o)
}

/// ICR writes and hypercalls of one plan (every ICR write exits here).
fn counts(p: &Plan) -> (u64, u64) {
    (p.exits.saturating_sub(p.hypercalls), p.hypercalls)
}

/// The policy of ipi_steer in `mode`.
fn policy(mode: &str, costs: Costs) -> Result<Policy, String> {
    let mode = match mode {
        "auto" => Mode::Auto,
        name => {
            Mode::Forced(Transport::from_name(name).ok_or_else(|| format!("unknown mode {name}"))?)
        }
    };
    Policy::new(&Config {
        features: Features::KVM_X2APIC,
        costs,
        mode,
    })
    .map_err(|e| format!("no policy: {e:?}"))
}

/// Predicts one row: ICR writes and hypercalls per operation.
fn row(o: &Opts, kind: &str, k: usize, mode: &str) -> Result<(u64, u64), String> {
    let targets = o.ids.get(1..=k).ok_or("k out of range")?;
    let mut out = vec![Op::EMPTY; k.max(1)];
    let mut scratch = vec![0u64; scratch_words(k)];
    let unicast = |mode: &str| -> Result<(u64, u64), String> {
        if mode == "stock" {
            return Ok((1, 0));
        }
        let p = policy(mode, o.costs)?
            .plan_one(&mut out.clone())
            .map_err(|e| format!("{e:?}"))?;
        Ok(counts(&p))
    };
    let kk = u64::try_from(k).map_err(|e| e.to_string())?;
    match kind {
        "resched" | "single" => {
            let (i, h) = unicast(mode)?;
            Ok((i * kk, h * kk))
        }
        "many" if k == 1 => unicast(mode),
        "many" => {
            let all_but_self = k == o.ids.len() - 1;
            if mode == "stock" {
                if all_but_self {
                    return Ok((1, 0));
                }
                let st = stock::plan(
                    targets,
                    Vector::CALL_FUNCTION,
                    &Features::KVM_X2APIC,
                    &o.costs,
                    |_| {},
                );
                return Ok((st.exits.saturating_sub(st.hypercalls), st.hypercalls));
            }
            let mut ids = targets.to_vec();
            let p = policy(mode, o.costs)?
                .plan(&mut ids, &mut out, &mut scratch)
                .map_err(|e| format!("{e:?}"))?;
            if mode == "auto" && all_but_self && p.exits >= 1 {
                return Ok((1, 0));
            }
            Ok(counts(&p))
        }
        other => Err(format!("unknown kind {other}")),
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    println!("kind,k,mode,icr,hc");
    for kind in &o.kinds {
        for k in 1..o.ids.len() {
            for mode in &o.modes {
                let (i, h) = row(&o, kind, k, mode)?;
                println!("{kind},{k},{mode},{i},{h}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipi-predict: {e}");
            ExitCode::FAILURE
        }
    }
}
