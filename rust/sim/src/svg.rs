// SPDX-License-Identifier: GPL-2.0

//! A small hand-written SVG line plot: stacked panels sharing one x axis.

use std::fmt::Write as _;

/// One named series of y values (one per x).
pub struct Line<'a> {
    pub name: &'a str,
    pub ys: &'a [u64],
}

/// One panel: a y label and its lines.
pub struct Panel<'a> {
    pub ylabel: &'a str,
    pub lines: &'a [Line<'a>],
}

const W: f64 = 900.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 70.0;
const GAP: f64 = 60.0;

fn color(name: &str) -> &'static str {
    match name {
        "x2apic" => "#1f77b4",
        "xapic" => "#17becf",
        "hypercall" => "#ff7f0e",
        "tdvmcall" => "#9467bd",
        "posted" => "#2ca02c",
        "stock" => "#7f7f7f",
        "ipi_steer" => "#d62728",
        _ => "#000000",
    }
}

/// Returns a "nice" tick step for the range 0..max with about `n` ticks.
fn nice_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the panels as one SVG document.
pub fn render(title: &str, subtitle: &str, xs: &[u64], panels: &[Panel<'_>]) -> String {
    let h = TOP + panels.len() as f64 * (PANEL_H + GAP) + 20.0;
    let pw = W - LEFT - RIGHT;
    let xmax = xs.iter().copied().max().unwrap_or(1).max(1) as f64;
    let xmin = xs.iter().copied().min().unwrap_or(0) as f64;
    let xspan = (xmax - xmin).max(1.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{}" y="24" font-size="16" text-anchor="middle">{}</text>"##,
        W / 2.0,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="44" text-anchor="middle" fill="#444">{}</text>"##,
        W / 2.0,
        esc(subtitle)
    );
    for (pi, panel) in panels.iter().enumerate() {
        let top = TOP + pi as f64 * (PANEL_H + GAP);
        let bottom = top + PANEL_H;
        let ymax = panel
            .lines
            .iter()
            .flat_map(|l| l.ys.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let ystep = nice_step(ymax, 6.0);
        let ytop = (ymax / ystep).ceil() * ystep;
        let px = |x: f64| LEFT + (x - xmin) / xspan * pw;
        let py = |y: f64| bottom - y / ytop * PANEL_H;
        // Grid and y ticks.
        let mut y = 0.0;
        while y <= ytop + 0.5 {
            let yy = py(y);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                yy + 4.0,
                y as u64
            );
            y += ystep;
        }
        // X ticks.
        let xstep = nice_step(xspan, 10.0);
        let mut x = (xmin / xstep).ceil() * xstep;
        while x <= xmax + 0.5 {
            let xx = px(x);
            let _ = writeln!(
                s,
                r##"<line x1="{xx:.1}" y1="{top:.1}" x2="{xx:.1}" y2="{bottom:.1}" stroke="#f0f0f0"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 16.0,
                x as u64
            );
            x += xstep;
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{pw:.1}" height="{PANEL_H}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
            LEFT - 62.0,
            top + PANEL_H / 2.0,
            esc(panel.ylabel)
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">targets (k)</text>"##,
            LEFT + pw / 2.0,
            bottom + 34.0
        );
        // Lines and legend.
        for (li, line) in panel.lines.iter().enumerate() {
            let c = color(line.name);
            let (width, dash) = match line.name {
                "ipi_steer" => (3.0, ""),
                "stock" => (2.0, r##" stroke-dasharray="6,4""##),
                _ => (1.5, ""),
            };
            let mut pts = String::new();
            for (x, y) in xs.iter().zip(line.ys) {
                let _ = write!(pts, "{:.1},{:.1} ", px(*x as f64), py(*y as f64));
            }
            let _ = writeln!(
                s,
                r##"<polyline fill="none" stroke="{c}" stroke-width="{width}"{dash} points="{}"/>"##,
                pts.trim_end()
            );
            let ly = top + 14.0 + li as f64 * 18.0;
            let lx = LEFT + pw + 14.0;
            let _ = writeln!(
                s,
                r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="{width}"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"##,
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                esc(line.name)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
