// SPDX-License-Identifier: GPL-2.0

//! The benchmark report (`make bench`): measured exits per operation set
//! beside the cost model's prediction, per topology, IPI kind, target count
//! and mode, with a summary of where ipi_steer beats the kernel's own paths.
//!
//! The input is one CSV file with the header [`HEADER`] (columns in any
//! order, extra columns ignored); the output is a markdown table, one SVG
//! plot per topology and kind and a summary CSV, all built in memory so that
//! bad input writes nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ipi_core::profile::Transport;

use crate::svg;

/// The columns the input must have.
pub const HEADER: [&str; 9] = [
    "topology", "kind", "k", "mode", "icr", "hc", "pred_icr", "pred_hc", "cycles",
];

/// The IPI kinds the guest's exits test measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// One reschedule IPI to each target.
    Resched,
    /// One call-function-single IPI to each target.
    Single,
    /// `smp_call_function_many()` to all targets at once.
    Many,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Self; 3] = [Self::Resched, Self::Single, Self::Many];

    /// Returns the name used in the CSV and in file names.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Resched => "resched",
            Self::Single => "single",
            Self::Many => "many",
        }
    }

    /// Parses a name as returned by [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Returns what one operation of this kind is, for headings.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Resched => "reschedule IPI to each of k targets",
            Self::Single => "call-function-single IPI to each of k targets",
            Self::Many => "smp_call_function_many() to k targets",
        }
    }
}

/// Who sent the IPIs of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// The kernel's own paths, ipi_steer not loaded.
    Stock,
    /// ipi_steer choosing the transport per IPI.
    Auto,
    /// ipi_steer with one transport forced.
    Forced(Transport),
}

impl Mode {
    /// Returns the name used in the CSV and by ipi_steer's `mode` knob.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Auto => "auto",
            Self::Forced(t) => t.name(),
        }
    }

    /// Parses a name as returned by [`Mode::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "stock" => Some(Self::Stock),
            "auto" => Some(Self::Auto),
            _ => Transport::from_name(name).map(Self::Forced),
        }
    }
}

/// One measured row: one mode at one target count of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The guest topology's short name.
    pub topology: String,
    /// The IPI kind.
    pub kind: Kind,
    /// The number of targets.
    pub k: u32,
    /// Who sent the IPIs.
    pub mode: Mode,
    /// Measured x2APIC ICR writes per operation.
    pub icr: f64,
    /// Measured `KVM_HC_SEND_IPI` hypercalls per operation.
    pub hc: f64,
    /// Predicted ICR writes per operation.
    pub pred_icr: u64,
    /// Predicted hypercalls per operation.
    pub pred_hc: u64,
    /// Cycles per operation as the sender timed it (the whole operation), when measured.
    pub cycles: Option<f64>,
}

/// Rounds a non-negative count to the nearest whole number, halves up (as
/// scripts/exits-predict.sh does).
fn round(x: f64) -> u64 {
    (x + 0.5).floor() as u64
}

impl Row {
    /// Measured exits per operation.
    pub fn exits(&self) -> f64 {
        self.icr + self.hc
    }

    /// Predicted exits per operation.
    pub fn predicted(&self) -> u64 {
        self.pred_icr.saturating_add(self.pred_hc)
    }

    /// Measured exits per operation, each count rounded first.
    pub fn rounded(&self) -> u64 {
        round(self.icr).saturating_add(round(self.hc))
    }

    /// Tells whether both rounded measured counts equal the prediction.
    pub fn agrees(&self) -> bool {
        round(self.icr) == self.pred_icr && round(self.hc) == self.pred_hc
    }

    /// The larger distance of the two measured counts from the prediction.
    pub fn deviation(&self) -> f64 {
        (self.icr - self.pred_icr as f64)
            .abs()
            .max((self.hc - self.pred_hc as f64).abs())
    }
}

/// Parses a non-negative decimal such as `1.14` (no sign, exponent, NaN or
/// infinity, which `str::parse` would take).
fn decimal(s: &str) -> Option<f64> {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let dots = s.bytes().filter(|&b| b == b'.').count();
    if digits == 0 || dots > 1 || digits + dots != s.len() {
        return None;
    }
    s.parse().ok()
}

/// Parses a whole number (digits only).
fn whole(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Tells whether a topology name is safe as part of a file name.
fn valid_topology(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Parses the CSV text; errors name the line and column.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (hn, header) = lines.next().ok_or("empty input: no header")?;
    let names: Vec<&str> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::trim)
        .collect();
    let mut col = [0usize; HEADER.len()];
    for (c, want) in col.iter_mut().zip(HEADER) {
        let mut at = names.iter().enumerate().filter(|(_, n)| **n == want);
        *c = match (at.next(), at.next()) {
            (Some((i, _)), None) => i,
            (None, _) => {
                return Err(format!(
                    "line {hn}: no column {want} (need {})",
                    HEADER.join(",")
                ))
            }
            (Some(_), Some(_)) => return Err(format!("line {hn}: column {want} given twice")),
        };
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: BTreeMap<(String, Kind, u32, Mode), usize> = BTreeMap::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != names.len() {
            return Err(format!(
                "line {n}: {} fields, the header has {}",
                f.len(),
                names.len()
            ));
        }
        let get = |i: usize| -> &str {
            let c = col.get(i).copied().unwrap_or(0);
            f.get(c).copied().unwrap_or("")
        };
        let bad = |i: usize, what: &str| {
            format!(
                "line {n}: {}: {what}, got \"{}\"",
                HEADER.get(i).copied().unwrap_or(""),
                get(i)
            )
        };
        let topology = get(0);
        if !valid_topology(topology) {
            return Err(bad(0, "expected a name of letters, digits, '-', '_', '.'"));
        }
        let kind = Kind::from_name(get(1))
            .ok_or_else(|| bad(1, "unknown kind (resched, single, many)"))?;
        let k = whole(get(2))
            .and_then(|k| u32::try_from(k).ok())
            .filter(|&k| k >= 1)
            .ok_or_else(|| bad(2, "expected a target count of at least 1"))?;
        let mode = Mode::from_name(get(3)).ok_or_else(|| {
            bad(
                3,
                "unknown mode (stock, auto, x2apic, xapic, hypercall, tdvmcall, posted)",
            )
        })?;
        let num = |i: usize| decimal(get(i)).ok_or_else(|| bad(i, "expected a decimal number"));
        let int = |i: usize| whole(get(i)).ok_or_else(|| bad(i, "expected a whole number"));
        let row = Row {
            topology: topology.to_string(),
            kind,
            k,
            mode,
            icr: num(4)?,
            hc: num(5)?,
            pred_icr: int(6)?,
            pred_hc: int(7)?,
            cycles: match get(8) {
                "" => None,
                _ => Some(num(8)?),
            },
        };
        let key = (row.topology.clone(), kind, k, mode);
        if let Some(first) = seen.insert(key, n) {
            return Err(format!(
                "line {n}: {topology} {} k={k} {} already given on line {first}",
                kind.name(),
                mode.name()
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("no rows after the header".into());
    }
    Ok(rows)
}

/// The rows of one topology: per (kind, k), the row of each mode.
struct Topology<'a> {
    name: &'a str,
    rows: BTreeMap<(Kind, u32), BTreeMap<Mode, &'a Row>>,
}

impl Topology<'_> {
    /// Every mode measured in this topology, in column order.
    fn modes(&self) -> Vec<Mode> {
        let mut m: Vec<Mode> = self.rows.values().flat_map(|r| r.keys().copied()).collect();
        m.sort();
        m.dedup();
        m
    }

    /// The kinds measured, in report order.
    fn kinds(&self) -> Vec<Kind> {
        let mut k: Vec<Kind> = self.rows.keys().map(|&(kind, _)| kind).collect();
        k.dedup();
        k
    }
}

/// Groups rows by topology, in the order the topologies first appear.
fn group(rows: &[Row]) -> Vec<Topology<'_>> {
    let mut out: Vec<Topology<'_>> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|t| t.name == r.topology) {
            Some(i) => i,
            None => {
                out.push(Topology {
                    name: &r.topology,
                    rows: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        if let Some(t) = out.get_mut(i) {
            t.rows.entry((r.kind, r.k)).or_default().insert(r.mode, r);
        }
    }
    out
}

/// The summary of one topology.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// The topology's name.
    pub topology: String,
    /// (kind, k) rows.
    pub rows: usize,
    /// Measured cells (one per row and mode).
    pub cells: usize,
    /// Cells whose rounded counts equal the prediction.
    pub cells_equal: usize,
    /// The largest distance of a measured count from its prediction.
    pub max_deviation: f64,
    /// Rows with auto and at least one forced mode.
    pub min_rows: usize,
    /// Of those, rows where auto's predicted exits are the forced modes' minimum.
    pub auto_at_min_predicted: usize,
    /// Of those, rows where auto's rounded measured exits are the minimum.
    pub auto_at_min_measured: usize,
    /// Rows with both auto and stock.
    pub stock_rows: usize,
    /// (kind, k, exits saved per operation) where auto is predicted below stock.
    pub wins: Vec<(Kind, u32, u64)>,
    /// (kind, k) where auto and stock are predicted equal.
    pub ties: Vec<(Kind, u32)>,
    /// (kind, k, exits lost per operation) where stock is predicted below auto.
    pub losses: Vec<(Kind, u32, u64)>,
    /// Measured exits saved per operation, summed over `wins`.
    pub measured_saved: f64,
}

impl Summary {
    /// The most exits per operation auto saves against stock in any row.
    pub fn max_saved(&self) -> u64 {
        self.wins.iter().map(|w| w.2).max().unwrap_or(0)
    }

    /// Measured exits saved per operation, averaged over `wins`.
    pub fn mean_measured_saved(&self) -> Option<f64> {
        (!self.wins.is_empty()).then(|| self.measured_saved / self.wins.len() as f64)
    }
}

fn summarize_one(t: &Topology<'_>) -> Summary {
    let mut s = Summary {
        topology: t.name.to_string(),
        rows: t.rows.len(),
        ..Summary::default()
    };
    for (&(kind, k), modes) in &t.rows {
        for r in modes.values() {
            s.cells += 1;
            s.cells_equal += usize::from(r.agrees());
            s.max_deviation = s.max_deviation.max(r.deviation());
        }
        let forced = || {
            modes
                .iter()
                .filter(|(m, _)| matches!(m, Mode::Forced(_)))
                .map(|(_, r)| *r)
        };
        if let (Some(auto), Some(min_pred), Some(min_meas)) = (
            modes.get(&Mode::Auto),
            forced().map(Row::predicted).min(),
            forced().map(Row::rounded).min(),
        ) {
            s.min_rows += 1;
            s.auto_at_min_predicted += usize::from(auto.predicted() <= min_pred);
            s.auto_at_min_measured += usize::from(auto.rounded() <= min_meas);
        }
        if let (Some(auto), Some(stock)) = (modes.get(&Mode::Auto), modes.get(&Mode::Stock)) {
            s.stock_rows += 1;
            let (a, b) = (auto.predicted(), stock.predicted());
            if a < b {
                s.wins.push((kind, k, b - a));
                s.measured_saved += stock.exits() - auto.exits();
            } else if a == b {
                s.ties.push((kind, k));
            } else {
                s.losses.push((kind, k, a - b));
            }
        }
    }
    s
}

/// Summarizes every topology, in the order they first appear.
pub fn summarize(rows: &[Row]) -> Vec<Summary> {
    group(rows).iter().map(summarize_one).collect()
}

/// Writes `(kind, k, n)` items as runs of consecutive k with equal n:
/// "many k=2..5 by 1, many k=7 by 2" (without " by" when `by` is false).
fn spans(items: &[(Kind, u32, u64)], by: bool) -> String {
    let mut runs: Vec<(Kind, u32, u32, u64)> = Vec::new();
    for &(kind, k, n) in items {
        match runs.last_mut() {
            Some(last) if last.0 == kind && last.3 == n && last.2.checked_add(1) == Some(k) => {
                last.2 = k
            }
            _ => runs.push((kind, k, k, n)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(kind, lo, hi, n)| {
            let ks = if lo == hi {
                format!("k={lo}")
            } else {
                format!("k={lo}..{hi}")
            };
            if by {
                format!("{} {ks} by {n}", kind.name())
            } else {
                format!("{} {ks}", kind.name())
            }
        })
        .collect();
    parts.join(", ")
}

fn rows_word(n: usize) -> String {
    match n {
        0 => "no row".into(),
        1 => "1 row".into(),
        n => format!("{n} rows"),
    }
}

/// The summary paragraph of one topology.
fn paragraph(s: &Summary) -> String {
    let mut p = format!(
        "{} rows, {} cells. Measured equals predicted (rounded) in {} of {} cells; \
         largest deviation {:.2} per operation.",
        s.rows, s.cells, s.cells_equal, s.cells, s.max_deviation
    );
    if s.min_rows > 0 {
        let _ = write!(
            p,
            " Auto is at the minimum of the forced modes in {} of {} rows as predicted, \
             {} of {} as measured (rounded).",
            s.auto_at_min_predicted, s.min_rows, s.auto_at_min_measured, s.min_rows
        );
    }
    if s.stock_rows > 0 {
        let _ = write!(
            p,
            " Against stock, ipi_steer auto needs fewer exits in {}",
            rows_word(s.wins.len())
        );
        if let Some(mean) = s.mean_measured_saved() {
            let _ = write!(
                p,
                " (predicted: {} exits per operation; measured: {mean:.2} fewer on average)",
                spans(&s.wins, true)
            );
        }
        let ties: Vec<(Kind, u32, u64)> = s.ties.iter().map(|&(kind, k)| (kind, k, 0)).collect();
        let _ = write!(p, "; ties in {}", rows_word(ties.len()));
        if !ties.is_empty() {
            let _ = write!(p, " ({})", spans(&ties, false));
        }
        let _ = write!(p, "; stock needs fewer in {}", rows_word(s.losses.len()));
        if !s.losses.is_empty() {
            let _ = write!(p, " ({} exits per operation)", spans(&s.losses, true));
        }
        p.push('.');
    }
    p
}

/// The file name of one topology's plot of one kind.
pub fn svg_name(topology: &str, kind: Kind) -> String {
    format!("{topology}-{}.svg", kind.name())
}

/// A measured cell: exits (ICR writes + hypercalls).
fn measured_cell(r: Option<&&Row>) -> String {
    r.map_or("–".into(), |r| {
        format!("{:.2} ({:.2}+{:.2})", r.exits(), r.icr, r.hc)
    })
}

/// A predicted cell: exits (ICR writes + hypercalls).
fn predicted_cell(r: Option<&&Row>) -> String {
    r.map_or("–".into(), |r| {
        format!("{} ({}+{})", r.predicted(), r.pred_icr, r.pred_hc)
    })
}

/// Writes the head of a markdown table: k, then `cols`, right-aligned.
fn head(md: &mut String, cols: &[&str]) {
    md.push_str("| k |");
    for c in cols {
        let _ = write!(md, " {c} |");
    }
    md.push_str("\n|---:|");
    for _ in cols {
        md.push_str("---:|");
    }
    md.push('\n');
}

/// The markdown report.
fn markdown(source: &str, tops: &[Topology<'_>], sums: &[Summary]) -> String {
    let mut md = String::from("# IPI exits per operation: measured and predicted\n\n");
    let names: Vec<&str> = tops.iter().map(|t| t.name).collect();
    let _ = writeln!(
        md,
        "From `{source}`, topologies {}. Exits per operation are the sending vCPU's \
         x2APIC ICR writes plus `KVM_HC_SEND_IPI` hypercalls, measured (`1.14 (1.14+0.00)`: \
         exits (ICR writes + hypercalls)) and as the cost model predicts them (`1 (1+0)`). \
         `stock` is the kernel's own paths without ipi_steer; the other modes are \
         ipi_steer's. The last column says whether both measured counts, rounded to whole \
         numbers, equal the prediction.\n",
        names.join(", ")
    );
    for (t, s) in tops.iter().zip(sums) {
        let modes = t.modes();
        let _ = writeln!(md, "## {}\n\n{}\n", t.name, paragraph(s));
        for kind in t.kinds() {
            let _ = writeln!(md, "### {}: {}\n", kind.name(), kind.title());
            let mut cols: Vec<&str> = modes.iter().flat_map(|m| [m.name(), "predicted"]).collect();
            cols.push("rounded = predicted");
            head(&mut md, &cols);
            let rows = t.rows.iter().filter(|((kd, _), _)| *kd == kind);
            for (&(_, k), row) in rows.clone() {
                let _ = write!(md, "| {k} |");
                for m in &modes {
                    let r = row.get(m);
                    let _ = write!(md, " {} | {} |", measured_cell(r), predicted_cell(r));
                }
                let off: Vec<&str> = row
                    .iter()
                    .filter(|(_, r)| !r.agrees())
                    .map(|(m, _)| m.name())
                    .collect();
                if off.is_empty() {
                    md.push_str(" yes |\n");
                } else {
                    let _ = writeln!(md, " no: {} |", off.join(", "));
                }
            }
            if rows
                .clone()
                .any(|(_, row)| row.values().any(|r| r.cycles.is_some()))
            {
                md.push_str("\nCycles per operation, timed by the sender from start to end of the operation (for `single` and `many` that includes waiting for the handlers):\n\n");
                let cols: Vec<&str> = modes.iter().map(|m| m.name()).collect();
                head(&mut md, &cols);
                for (&(_, k), row) in rows {
                    let _ = write!(md, "| {k} |");
                    for m in &modes {
                        match row.get(m).and_then(|r| r.cycles) {
                            Some(c) => {
                                let _ = write!(md, " {c:.0} |");
                            }
                            None => md.push_str(" – |"),
                        }
                    }
                    md.push('\n');
                }
            }
            let _ = writeln!(
                md,
                "\n![{} {}]({})\n",
                t.name,
                kind.name(),
                svg_name(t.name, kind)
            );
        }
    }
    md
}

/// The summary CSV, one line per topology.
fn summary_csv(sums: &[Summary]) -> String {
    let mut csv = String::from(
        "topology,rows,cells,cells_equal,max_deviation,min_rows,auto_at_min_predicted,\
         auto_at_min_measured,stock_rows,auto_beats_stock,ties,stock_beats_auto,\
         max_exits_saved,mean_exits_saved_measured\n",
    );
    for s in sums {
        let _ = writeln!(
            csv,
            "{},{},{},{},{:.2},{},{},{},{},{},{},{},{},{}",
            s.topology,
            s.rows,
            s.cells,
            s.cells_equal,
            s.max_deviation,
            s.min_rows,
            s.auto_at_min_predicted,
            s.auto_at_min_measured,
            s.stock_rows,
            s.wins.len(),
            s.ties.len(),
            s.losses.len(),
            s.max_saved(),
            s.mean_measured_saved()
                .map_or(String::new(), |m| format!("{m:.2}"))
        );
    }
    csv
}

/// Stroke widths by column, widest first, so that equal lines stay visible.
const WIDTHS: [f64; 5] = [6.0, 4.0, 2.5, 1.5, 1.0];

/// Ring radii by column, largest first: equal predictions show as
/// concentric rings.
const RINGS: [u8; 5] = [11, 9, 7, 5, 3];

/// The plot of one topology and kind: exits (and cycles, if measured).
fn plot(t: &Topology<'_>, kind: Kind) -> String {
    let modes = t.modes();
    let rows: Vec<(u32, &BTreeMap<Mode, &Row>)> = t
        .rows
        .iter()
        .filter(|((kd, _), _)| *kd == kind)
        .map(|(&(_, k), m)| (k, m))
        .collect();
    let style = |i: usize, m: Mode, dashed: bool| svg::Style {
        color: svg::color(m.name()),
        width: WIDTHS.get(i).copied().unwrap_or(1.0),
        dashed,
        marker: if dashed {
            svg::Marker::Ring(RINGS.get(i).copied().unwrap_or(3))
        } else {
            svg::Marker::Dot
        },
    };
    let points = |m: Mode, f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|(k, r)| r.get(&m).and_then(|r| f(r)).map(|y| (f64::from(*k), y)))
            .collect()
    };
    let mut exits = Vec::new();
    for (i, &m) in modes.iter().enumerate() {
        exits.push(svg::Line {
            name: m.name(),
            points: points(m, &|r| Some(r.predicted() as f64)),
            style: style(i, m, true),
        });
    }
    for (i, &m) in modes.iter().enumerate() {
        exits.push(svg::Line {
            name: m.name(),
            points: points(m, &|r| Some(r.exits())),
            style: style(i, m, false),
        });
    }
    let mut legend: Vec<svg::Key<'_>> = modes
        .iter()
        .enumerate()
        .map(|(i, &m)| svg::Key {
            label: m.name(),
            style: svg::Style {
                width: 2.5,
                ..style(i, m, false)
            },
        })
        .collect();
    let grey = |dashed, marker| svg::Style {
        color: "#444444",
        width: 1.5,
        dashed,
        marker,
    };
    legend.push(svg::Key {
        label: "measured",
        style: grey(false, svg::Marker::Dot),
    });
    legend.push(svg::Key {
        label: "predicted",
        style: grey(true, svg::Marker::Ring(6)),
    });
    let cycles: Vec<svg::Line<'_>> = modes
        .iter()
        .enumerate()
        .map(|(i, &m)| svg::Line {
            name: m.name(),
            points: points(m, &|r| r.cycles),
            style: svg::Style {
                width: 2.0,
                ..style(i, m, false)
            },
        })
        .filter(|l| !l.points.is_empty())
        .collect();
    let mut panels = vec![svg::Panel {
        ylabel: "exits per operation",
        lines: &exits,
        legend: &legend,
    }];
    if !cycles.is_empty() {
        panels.push(svg::Panel {
            ylabel: "cycles per operation",
            lines: &cycles,
            legend: &[],
        });
    }
    svg::render(
        &format!("{}: {}", t.name, kind.title()),
        "measured: solid lines, dots; predicted by the cost model: dashed lines, rings; \
         sender CPU 0, targets CPUs 1..=k",
        &panels,
    )
}

/// Builds every output file: `(name, contents)`, the markdown table first.
pub fn render(source: &str, rows: &[Row]) -> Vec<(String, String)> {
    let tops = group(rows);
    let sums: Vec<Summary> = tops.iter().map(summarize_one).collect();
    let mut files = vec![
        ("table.md".to_string(), markdown(source, &tops, &sums)),
        ("summary.csv".to_string(), summary_csv(&sums)),
    ];
    for t in &tops {
        for kind in t.kinds() {
            files.push((svg_name(t.name, kind), plot(t, kind)));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles\n";

    fn rows(body: &str) -> Result<Vec<Row>, String> {
        parse(&format!("{HEAD}{body}"))
    }

    #[test]
    fn parses_a_row() {
        let r = rows("dense4,many,2,auto,0.12,1.00,0,1,\n").expect("parses");
        assert_eq!(
            r,
            [Row {
                topology: "dense4".into(),
                kind: Kind::Many,
                k: 2,
                mode: Mode::Auto,
                icr: 0.12,
                hc: 1.0,
                pred_icr: 0,
                pred_hc: 1,
                cycles: None,
            }]
        );
        let r = rows("dense4,single,1,x2apic,1.2,0,1,0,5310.5\r\n\n").expect("parses");
        assert_eq!(r.first().map(|r| r.cycles), Some(Some(5310.5)));
        assert_eq!(
            r.first().map(|r| r.mode),
            Some(Mode::Forced(Transport::X2apicIcr))
        );
    }

    #[test]
    fn columns_in_any_order_extra_ignored() {
        let r = parse(
            "mode,k,kind,topology,note,hc,icr,pred_hc,pred_icr,cycles\n\
             stock,3,many,wide,x,0,1.1,0,1,\n",
        )
        .expect("parses");
        assert_eq!(
            r.first().map(|r| (r.k, r.icr, r.pred_icr)),
            Some((3, 1.1, 1))
        );
    }

    #[test]
    fn rejects_bad_input() {
        let err = |text: &str| parse(text).expect_err(text);
        assert!(err("").contains("no header"));
        assert!(err(HEAD).contains("no rows"));
        assert!(err("topology,kind,k,mode,icr,hc,pred_icr,pred_hc\n").contains("no column cycles"));
        assert!(err("topology,kind,k,mode,icr,hc,pred_icr,pred_hc,cycles,k\n").contains("twice"));
        let bad = |body: &str, want: &str| {
            let e = rows(body).expect_err(body);
            assert!(e.contains(want), "{body}: {e}");
            assert!(e.starts_with("line 2: "), "{e}");
        };
        bad("d,single,1,auto,1,0,1,0\n", "8 fields");
        bad("d,single,1,turbo,1,0,1,0,\n", "unknown mode");
        bad("d,unicast,1,auto,1,0,1,0,\n", "unknown kind");
        bad("d,single,0,auto,1,0,1,0,\n", "k:");
        bad("d,single,-1,auto,1,0,1,0,\n", "k:");
        bad("d,single,1,auto,-1,0,1,0,\n", "icr:");
        bad("d,single,1,auto,NaN,0,1,0,\n", "icr:");
        bad("d,single,1,auto,inf,0,1,0,\n", "icr:");
        bad("d,single,1,auto,1e3,0,1,0,\n", "icr:");
        bad("d,single,1,auto,1.2.3,0,1,0,\n", "icr:");
        bad("d,single,1,auto,1,,1,0,\n", "hc:");
        bad("d,single,1,auto,1,0,1.0,0,\n", "pred_icr:");
        bad("d,single,1,auto,1,0,1,+1,\n", "pred_hc:");
        bad("d,single,1,auto,1,0,1,0,fast\n", "cycles:");
        bad("../x,single,1,auto,1,0,1,0,\n", "topology:");
        bad(",single,1,auto,1,0,1,0,\n", "topology:");
        let e = rows("d,single,1,auto,1,0,1,0,\nd,single,1,auto,1,0,1,0,\n").expect_err("dup");
        assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn rounding_and_agreement() {
        let r = rows("d,many,3,stock,1.12,0.02,1,0,\n").expect("parses");
        let r = r.first().expect("one row");
        assert!(r.agrees());
        assert_eq!(r.rounded(), 1);
        assert!((r.deviation() - 0.12).abs() < 1e-9);
        assert_eq!(round(0.49), 0);
        assert_eq!(round(0.5), 1);
        assert_eq!(round(2.51), 3);
        let r = rows("d,many,2,stock,0.10,0.60,0,1,\n").expect("parses");
        assert!(r.first().is_some_and(Row::agrees));
        let r = rows("d,many,2,stock,0.50,1.00,0,1,\n").expect("parses");
        assert!(!r.first().is_some_and(Row::agrees));
    }

    /// A topology where auto beats stock at k=2..3 (by 1) and k=4 (by 2),
    /// ties at k=1 and loses at k=5 (by 1), where x2apic measures off.
    const SAMPLE: &str = "\
t,many,1,stock,1.1,0,1,0,
t,many,1,auto,1.2,0,1,0,
t,many,1,x2apic,1,0,1,0,
t,many,1,hypercall,0,1,0,1,
t,many,2,stock,2,0,2,0,
t,many,2,auto,0,1.1,0,1,
t,many,2,x2apic,2,0,2,0,
t,many,3,stock,2.1,0,2,0,
t,many,3,auto,0,0.9,0,1,
t,many,3,hypercall,0,1,0,1,
t,many,4,stock,3.4,0,3,0,
t,many,4,auto,0,1,0,1,
t,many,5,stock,1,0,1,0,
t,many,5,auto,1,1,1,1,
t,many,5,x2apic,1.6,0,1,0,
u,single,1,auto,1,0,1,0,
";

    #[test]
    fn summary_counts() {
        let r = rows(SAMPLE).expect("parses");
        let s = summarize(&r);
        assert_eq!(s.len(), 2);
        let t = s.first().expect("t");
        assert_eq!(t.topology, "t");
        assert_eq!((t.rows, t.cells), (5, 15));
        // x2apic at k=5 measures 1.6: rounds to 2, not the prediction.
        assert_eq!(t.cells_equal, 14);
        assert!((t.max_deviation - 0.6).abs() < 1e-9);
        // k=4 has no forced mode; at k=5 auto is above x2apic as predicted
        // only.
        assert_eq!(t.min_rows, 4);
        assert_eq!(t.auto_at_min_predicted, 3);
        assert_eq!(t.auto_at_min_measured, 4);
        assert_eq!(t.stock_rows, 5);
        assert_eq!(
            t.wins,
            [(Kind::Many, 2, 1), (Kind::Many, 3, 1), (Kind::Many, 4, 2)]
        );
        assert_eq!(t.ties, [(Kind::Many, 1)]);
        assert_eq!(t.losses, [(Kind::Many, 5, 1)]);
        assert_eq!(t.max_saved(), 2);
        let mean = t.mean_measured_saved().expect("wins");
        assert!((mean - (0.9 + 1.2 + 2.4) / 3.0).abs() < 1e-9);
        let u = s.get(1).expect("u");
        assert_eq!((u.min_rows, u.stock_rows), (0, 0));
        assert_eq!(u.mean_measured_saved(), None);
    }

    #[test]
    fn spans_join_consecutive_k() {
        let r = rows(SAMPLE).expect("parses");
        let s = summarize(&r);
        let t = s.first().expect("t");
        assert_eq!(spans(&t.wins, true), "many k=2..3 by 1, many k=4 by 2");
        let p = paragraph(t);
        assert!(
            p.contains("fewer exits in 3 rows (predicted: many k=2..3 by 1, many k=4 by 2 exits per operation; measured: 1.50 fewer on average)"),
            "{p}"
        );
        assert!(p.contains("ties in 1 row (many k=1)"), "{p}");
        assert!(
            p.contains("stock needs fewer in 1 row (many k=5 by 1"),
            "{p}"
        );
    }

    #[test]
    fn renders_every_file() {
        let r = rows(SAMPLE).expect("parses");
        let files = render("bench.csv", &r);
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            ["table.md", "summary.csv", "t-many.svg", "u-single.svg"]
        );
        let md = &files.first().expect("md").1;
        assert!(md.contains("| 5 | 1.00 (1.00+0.00) | 1 (1+0) | 2.00 (1.00+1.00) | 2 (1+1) | 1.60 (1.60+0.00) | 1 (1+0) | – | – | no: x2apic |"));
        assert!(md.contains("![t many](t-many.svg)"));
        let csv = &files.get(1).expect("csv").1;
        assert_eq!(
            csv.lines().nth(1),
            Some("t,5,15,14,0.60,4,3,4,5,3,1,1,2,1.50")
        );
        assert_eq!(csv.lines().nth(2), Some("u,1,1,1,0.00,0,0,0,0,0,0,0,0,"));
        let svg = &files.get(2).expect("svg").1;
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("stroke-dasharray") && svg.contains("predicted"));
        assert!(!svg.contains("cycles per operation"));
    }
}
