// SPDX-License-Identifier: GPL-2.0

//! Explores every configuration of the posted-interrupt model and prints the
//! number of states; with `--coverage`, how often each kind of step was
//! taken; with `--bug NAME`, runs one broken variant and prints its
//! counterexample.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use ipi_model::check::explore;
use ipi_model::system::Config;
use ipi_model::system::HostBug;
use ipi_model::system::SenderBug;
use ipi_model::system::System;
use ipi_model::system::CONFIGS;

/// The broken variants `--bug` accepts.
const BUGS: [(&str, SenderBug, HostBug); 12] = [
    ("on-before-pir", SenderBug::OnBeforePir, HostBug::None),
    ("stale-control", SenderBug::StaleControl, HostBug::None),
    (
        "fallback-after-pir",
        SenderBug::FallbackAfterPir,
        HostBug::None,
    ),
    (
        "wakeup-means-asleep",
        SenderBug::WakeupMeansAsleep,
        HostBug::None,
    ),
    ("ignore-sn", SenderBug::IgnoreSn, HostBug::None),
    ("no-wakeup-vector", SenderBug::None, HostBug::NoWakeupVector),
    ("no-on-recheck", SenderBug::None, HostBug::NoOnRecheck),
    ("load-skips-pir", SenderBug::None, HostBug::LoadSkipsPir),
    ("stale-ndst", SenderBug::None, HostBug::StaleNdst),
    ("sn-when-blocking", SenderBug::None, HostBug::SnWhenBlocking),
    ("no-sn", SenderBug::None, HostBug::NoSn),
    (
        "withdraw-drops-notify",
        SenderBug::None,
        HostBug::WithdrawDropsNotify,
    ),
];

fn run(config: Config) -> bool {
    let t = Instant::now();
    let r = explore(&System { config });
    let ms = t.elapsed().as_millis();
    match r {
        Ok(s) => {
            println!(
                "ok   {:<32} {:>9} states {:>10} transitions {:>6} terminal  depth {:>3}  {ms} ms",
                config.name, s.states, s.transitions, s.terminal, s.depth
            );
            true
        }
        Err(v) => {
            println!(
                "FAIL {:<32} after {} states, {ms} ms",
                config.name, v.states
            );
            print!("{v}");
            false
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            let t = Instant::now();
            let failed = CONFIGS.iter().filter(|c| !run(**c)).count();
            println!("total {} ms", t.elapsed().as_millis());
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        [flag] if flag == "--coverage" => {
            let mut all: BTreeMap<String, usize> = BTreeMap::new();
            for config in CONFIGS {
                match explore(&System { config }) {
                    Ok(s) => {
                        for (label, n) in s.coverage {
                            *all.entry(label).or_insert(0) += n;
                        }
                    }
                    Err(v) => {
                        print!("{v}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            for (label, n) in all {
                println!("{n:>9}  {label}");
            }
            ExitCode::SUCCESS
        }
        [flag, name] if flag == "--bug" => {
            let Some((_, sender_bug, host_bug)) = BUGS.iter().find(|(n, _, _)| n == name) else {
                eprintln!("unknown bug {name}");
                return ExitCode::FAILURE;
            };
            let mut any = false;
            for c in CONFIGS {
                let config = Config {
                    sender_bug: *sender_bug,
                    host_bug: *host_bug,
                    ..c
                };
                if !run(config) {
                    any = true;
                    break;
                }
            }
            if any {
                ExitCode::SUCCESS
            } else {
                println!("no violation: {name} is harmless against this host");
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: ipi-model [--coverage | --bug NAME]");
            eprintln!(
                "bugs: {}",
                BUGS.iter().map(|b| b.0).collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}
