// SPDX-License-Identifier: GPL-2.0

//! ipi-bench-report: the report of `make bench` from its CSV of measured
//! results (`topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles`): a
//! markdown table with a summary per topology, one SVG plot per topology and
//! IPI kind, and `summary.csv`.  Bad input writes nothing.

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use ipi_sim::report;

const USAGE: &str = "\
usage: ipi-bench-report --csv FILE --out-dir DIR
  --csv FILE     measured results, header
                 topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles
  --out-dir DIR  writes DIR/table.md, DIR/summary.csv and
                 DIR/<topology>-<kind>.svg (DIR is created if needed)";

/// Command-line options.
struct Opts {
    csv: PathBuf,
    out_dir: PathBuf,
}

fn parse_args() -> Result<Opts, String> {
    let (mut csv, mut out_dir) = (None, None);
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        let mut val = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--csv" => csv = Some(val()?),
            "--out-dir" => out_dir = Some(val()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    match (csv, out_dir) {
        (Some(csv), Some(out_dir)) => Ok(Opts { csv, out_dir }),
        _ => Err(format!("--csv and --out-dir are needed\n{USAGE}")),
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let text = fs::read_to_string(&o.csv).map_err(|e| format!("{}: {e}", o.csv.display()))?;
    let rows = report::parse(&text).map_err(|e| format!("{}: {e}", o.csv.display()))?;
    // Only the file's name goes into the report, not where it was built.
    let source = o
        .csv
        .file_name()
        .map_or("input".into(), |n| n.to_string_lossy());
    let files = report::render(&source, &rows);
    fs::create_dir_all(&o.out_dir).map_err(|e| format!("{}: {e}", o.out_dir.display()))?;
    for (name, text) in &files {
        let p = o.out_dir.join(Path::new(name));
        fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!(
        "ipi-bench-report: {} rows, {} files in {}",
        rows.len(),
        files.len(),
        o.out_dir.display()
    );
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
            eprintln!("ipi-bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}
