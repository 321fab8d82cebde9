// SPDX-License-Identifier: GPL-2.0

//! ipi-sim: modeled cost and VM exits of one IPI against its target count.
//!
//! Builds a vCPU topology (APIC ids in CPU order), a feature profile and a cost
//! table, then for every target count k sends from CPU 0 to CPUs 1..=k with each
//! fixed transport, with the stock kernel policy and with ipi_steer's plan, and
//! writes a markdown table, a CSV file and an SVG plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::plan::scratch_words;
use ipi_core::plan::Op;
use ipi_core::plan::Policy;
use ipi_core::profile::ApicMode;
use ipi_core::profile::Config;
use ipi_core::profile::Cost;
use ipi_core::profile::Costs;
use ipi_core::profile::Features;
use ipi_core::profile::HostAccel;
use ipi_core::profile::Mode;
use ipi_core::profile::Transport;
use ipi_core::stock;
use ipi_sim::svg;

const USAGE: &str = "\
usage: ipi-sim [options]
topology:
  --vcpus N                dense APIC ids 0..N (default 96)
  --sockets S --cores C    sparse layout: id = socket*stride + core*threads + thread
  --threads T              SMT threads per core (default 1)
  --socket-stride X        APIC ids between sockets (default: next power of two)
  --smt-order split|interleaved
                           split (Linux's usual numbering): all first threads,
                           then all siblings; interleaved: siblings adjacent
features:
  --profile kvm|ipiv|avic|xapic|tdx|posted|nopv   (default kvm)
costs:
  --costs skylake|fastpath|ipiv|FILE   built-in table or key=value file (default
                           skylake); keys: <transport>.per_op, <transport>.per_target
                           with transport x2apic, xapic, hypercall, tdvmcall, posted
output:
  --out-dir DIR            write DIR/table.md, DIR/table.csv, DIR/plot.svg
  --title TEXT             plot title
  --every N                only every N-th target count in the markdown table
  --max-k N                stop at N targets (default: all but the sender)";

/// Command-line options.
struct Opts {
    vcpus: Option<u32>,
    sockets: Option<u32>,
    cores: u32,
    threads: u32,
    stride: Option<u32>,
    split: bool,
    profile: String,
    costs: String,
    out_dir: Option<PathBuf>,
    title: Option<String>,
    every: usize,
    max_k: Option<usize>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        vcpus: None,
        sockets: None,
        cores: 24,
        threads: 1,
        stride: None,
        split: true,
        profile: "kvm".into(),
        costs: "skylake".into(),
        out_dir: None,
        title: None,
        every: 1,
        max_k: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |s: String| s.parse::<u32>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "--vcpus" => o.vcpus = Some(num(val()?)?),
            "--sockets" => o.sockets = Some(num(val()?)?),
            "--cores" => o.cores = num(val()?)?,
            "--threads" => o.threads = num(val()?)?,
            "--socket-stride" => o.stride = Some(num(val()?)?),
            "--smt-order" => {
                o.split = match val()?.as_str() {
                    "split" => true,
                    "interleaved" => false,
                    other => return Err(format!("unknown SMT order {other}")),
                }
            }
            "--profile" => o.profile = val()?,
            "--costs" => o.costs = val()?,
            "--out-dir" => o.out_dir = Some(PathBuf::from(val()?)),
            "--title" => o.title = Some(val()?),
            "--every" => o.every = num(val()?)?.max(1) as usize,
            "--max-k" => o.max_k = Some(num(val()?)?.max(1) as usize),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// Returns the APIC id of every CPU, in CPU-number order.
fn topology(o: &Opts) -> Result<(Vec<ApicId>, String), String> {
    if let Some(n) = o.vcpus {
        return Ok((
            (0..n).map(ApicId).collect(),
            format!("{n} vCPUs, dense APIC ids"),
        ));
    }
    let sockets = o.sockets.unwrap_or(1);
    let per_socket = o.cores.checked_mul(o.threads).ok_or("topology too large")?;
    let stride = o.stride.unwrap_or_else(|| per_socket.next_power_of_two());
    if stride < per_socket {
        return Err(format!(
            "socket stride {stride} < {per_socket} ids per socket"
        ));
    }
    let id = |s: u32, c: u32, t: u32| s * stride + c * o.threads + t;
    let mut ids = Vec::new();
    if o.split {
        for t in 0..o.threads {
            for s in 0..sockets {
                for c in 0..o.cores {
                    ids.push(ApicId(id(s, c, t)));
                }
            }
        }
    } else {
        for s in 0..sockets {
            for c in 0..o.cores {
                for t in 0..o.threads {
                    ids.push(ApicId(id(s, c, t)));
                }
            }
        }
    }
    let desc = format!(
        "{sockets} sockets x {} cores x {} threads, socket stride {stride}, {} SMT numbering",
        o.cores,
        o.threads,
        if o.split { "split" } else { "interleaved" }
    );
    Ok((ids, desc))
}

fn features(profile: &str) -> Result<Features, String> {
    let kvm = Features::KVM_X2APIC;
    Ok(match profile {
        "kvm" => kvm,
        "ipiv" => Features {
            host_accel: HostAccel::Ipiv,
            ..kvm
        },
        "avic" => Features {
            host_accel: HostAccel::Avic,
            ..kvm
        },
        "xapic" => Features {
            apic_mode: ApicMode::Xapic,
            ..kvm
        },
        "tdx" => Features { tdx: true, ..kvm },
        "posted" => Features {
            posted_ipi: true,
            ..kvm
        },
        "nopv" => Features {
            pv_send_ipi: false,
            ..kvm
        },
        other => return Err(format!("unknown profile {other}")),
    })
}

/// Parses a key=value cost file on top of the Skylake table.
fn cost_file(text: &str) -> Result<Costs, String> {
    let mut costs = Costs::SKYLAKE;
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key = value", n + 1))?;
        let (name, field) = key
            .trim()
            .split_once('.')
            .ok_or_else(|| format!("line {}: expected <transport>.<field>", n + 1))?;
        let t = Transport::from_name(name)
            .ok_or_else(|| format!("line {}: unknown transport {name}", n + 1))?;
        let v: u32 = value
            .trim()
            .parse()
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        let mut c: Cost = costs.get(t);
        match field {
            "per_op" => c.per_op = v,
            "per_target" => c.per_target = v,
            other => return Err(format!("line {}: unknown field {other}", n + 1)),
        }
        costs.set(t, c);
    }
    Ok(costs)
}

fn costs(spec: &str) -> Result<(Costs, String), String> {
    Ok(match spec {
        "skylake" => (Costs::SKYLAKE, "built-in skylake table".into()),
        "fastpath" => (Costs::SKYLAKE_FASTPATH, "built-in fastpath table".into()),
        "ipiv" => (Costs::SPR_IPIV, "built-in ipiv table".into()),
        path => {
            let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            (cost_file(&text)?, format!("cost file {path}"))
        }
    })
}

/// One series of the result: cost and exits per target count.
struct Series {
    name: String,
    cost: Vec<u64>,
    exits: Vec<u64>,
    hypercalls: Vec<u64>,
}

impl Series {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            cost: Vec::new(),
            exits: Vec::new(),
            hypercalls: Vec::new(),
        }
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let (cpu_ids, topo) = topology(&o)?;
    if cpu_ids.len() < 2 {
        return Err("need at least 2 vCPUs".into());
    }
    let features = features(&o.profile)?;
    let (costs, costs_desc) = costs(&o.costs)?;

    let mut policies: Vec<(Series, Policy)> = Vec::new();
    for t in Transport::ALL {
        let config = Config {
            features,
            costs,
            mode: Mode::Forced(t),
        };
        if let Ok(p) = Policy::new(&config) {
            policies.push((Series::new(t.name()), p));
        }
    }
    let auto = Policy::new(&Config {
        features,
        costs,
        mode: Mode::Auto,
    })
    .map_err(|e| format!("no usable transport: {e:?}"))?;
    let mut stock_series = Series::new("stock");
    let mut steer = Series::new("ipi_steer");

    let max = o
        .max_k
        .map_or(cpu_ids.len() - 1, |m| m.min(cpu_ids.len() - 1));
    let ks: Vec<usize> = (1..=max).collect();
    let mut scratch = vec![0u64; scratch_words(max)];
    let mut out = vec![Op::EMPTY; max];
    for &k in &ks {
        // Sender is CPU 0; targets are CPUs 1..=k, APIC ids in CPU order.
        let targets = &cpu_ids[1..=k];
        let mut plan_with = |p: &Policy, s: &mut Series| -> Result<(), String> {
            let mut ids = targets.to_vec();
            let plan = p
                .plan(&mut ids, &mut out, &mut scratch)
                .map_err(|e| format!("plan failed: {e:?}"))?;
            s.cost.push(plan.cost);
            s.exits.push(plan.exits);
            s.hypercalls.push(plan.hypercalls);
            Ok(())
        };
        for (s, p) in policies.iter_mut() {
            plan_with(p, s)?;
        }
        plan_with(&auto, &mut steer)?;
        let st = stock::plan(targets, Vector::CALL_FUNCTION, &features, &costs, |_| {});
        stock_series.cost.push(st.cost);
        stock_series.exits.push(st.exits);
        stock_series.hypercalls.push(st.hypercalls);
    }

    let mut all: Vec<Series> = policies.into_iter().map(|(s, _)| s).collect();
    all.push(stock_series);
    all.push(steer);

    let title = o
        .title
        .clone()
        .unwrap_or_else(|| format!("profile {}, {costs_desc}", o.profile));
    let subtitle = format!("{topo}; sender CPU 0, targets CPUs 1..=k");

    // Markdown table.
    let mut md = String::new();
    let _ = writeln!(md, "{title}\n\n{subtitle}\n");
    let _ = write!(md, "| k |");
    for s in &all {
        let _ = write!(md, " {} cost | exits |", s.name);
    }
    let _ = writeln!(md, " stock hc | ipi_steer hc |");
    let _ = write!(md, "|---:|");
    for _ in &all {
        let _ = write!(md, "---:|---:|");
    }
    let _ = writeln!(md, "---:|---:|");
    let stock_idx = all.len() - 2;
    let steer_idx = all.len() - 1;
    for (row, &k) in ks.iter().enumerate() {
        if k != 1 && k != max && k % o.every != 0 {
            continue;
        }
        let _ = write!(md, "| {k} |");
        for s in &all {
            let _ = write!(md, " {} | {} |", s.cost[row], s.exits[row]);
        }
        let _ = writeln!(
            md,
            " {} | {} |",
            all[stock_idx].hypercalls[row], all[steer_idx].hypercalls[row]
        );
    }

    // Crossovers and totals.
    let mut notes = String::new();
    let first_win = ks
        .iter()
        .zip(&all[steer_idx].hypercalls)
        .find(|(_, &h)| h > 0)
        .map(|(k, _)| *k);
    let _ = writeln!(
        notes,
        "\nipi_steer first uses a hypercall at k = {}.",
        first_win.map_or("never".to_string(), |k| k.to_string())
    );
    let fewer = ks
        .iter()
        .enumerate()
        .filter(|&(row, _)| all[steer_idx].hypercalls[row] < all[stock_idx].hypercalls[row])
        .count();
    let cheaper = ks
        .iter()
        .enumerate()
        .filter(|&(row, _)| all[steer_idx].cost[row] < all[stock_idx].cost[row])
        .count();
    let worse = ks
        .iter()
        .enumerate()
        .filter(|&(row, _)| all[steer_idx].cost[row] > all[stock_idx].cost[row])
        .count();
    let _ = writeln!(
        notes,
        "Of {} target counts, ipi_steer is cheaper than stock at {cheaper}, dearer at {worse}, \
         and needs fewer hypercalls at {fewer}.",
        ks.len()
    );
    if max == cpu_ids.len() - 1 {
        let _ = writeln!(
            notes,
            "At k = {max} (all but self) stock Linux uses the ICR shorthand instead (one write); \
             ipi_steer keeps that path."
        );
    }
    md.push_str(&notes);

    // CSV.
    let mut csv = String::from("k");
    for s in &all {
        let _ = write!(csv, ",{0}_cost,{0}_exits,{0}_hypercalls", s.name);
    }
    csv.push('\n');
    for (row, k) in ks.iter().enumerate() {
        let _ = write!(csv, "{k}");
        for s in &all {
            let _ = write!(
                csv,
                ",{},{},{}",
                s.cost[row], s.exits[row], s.hypercalls[row]
            );
        }
        csv.push('\n');
    }

    let xs: Vec<u64> = ks.iter().map(|&k| k as u64).collect();
    let cost_lines: Vec<svg::Line<'_>> = all
        .iter()
        .map(|s| svg::Line::of(&s.name, &xs, &s.cost))
        .collect();
    let exit_lines: Vec<svg::Line<'_>> = all
        .iter()
        .map(|s| svg::Line::of(&s.name, &xs, &s.exits))
        .collect();
    let plot = svg::render(
        &title,
        &subtitle,
        &[
            svg::Panel {
                ylabel: "modeled cost (cycles)",
                lines: &cost_lines,
                legend: &[],
            },
            svg::Panel {
                ylabel: "VM exits",
                lines: &exit_lines,
                legend: &[],
            },
        ],
    );

    match &o.out_dir {
        Some(dir) => {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut files = BTreeMap::new();
            files.insert("table.md", md.as_str());
            files.insert("table.csv", csv.as_str());
            files.insert("plot.svg", plot.as_str());
            for (name, text) in files {
                let p = dir.join(name);
                fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            print!("{notes}");
        }
        None => print!("{md}"),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ipi-sim: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_file_parses() {
        let c =
            cost_file("# comment\nx2apic.per_op = 500\nhypercall.per_target=7\n").expect("parses");
        assert_eq!(c.x2apic_icr.per_op, 500);
        assert_eq!(c.kvm_hc.per_target, 7);
        assert_eq!(c.kvm_hc.per_op, Costs::SKYLAKE.kvm_hc.per_op);
        assert!(cost_file("bogus.per_op = 1").is_err());
        assert!(cost_file("x2apic.per_op = -1").is_err());
        assert!(cost_file("x2apic").is_err());
    }

    #[test]
    fn split_topology() {
        let o = Opts {
            vcpus: None,
            sockets: Some(2),
            cores: 2,
            threads: 2,
            stride: Some(128),
            split: true,
            profile: "kvm".into(),
            costs: "skylake".into(),
            out_dir: None,
            title: None,
            every: 1,
            max_k: None,
        };
        let (ids, _) = topology(&o).expect("valid");
        let raw: Vec<u32> = ids.iter().map(|i| i.0).collect();
        assert_eq!(raw, [0, 2, 128, 130, 1, 3, 129, 131]);
    }
}
