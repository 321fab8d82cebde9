// SPDX-License-Identifier: GPL-2.0

//! A small hand-written SVG line plot: stacked panels sharing one x axis.

use std::fmt::Write as _;

/// What is drawn at each point of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Nothing: the line only.
    None,
    /// A filled dot.
    Dot,
    /// An open ring of this radius in pixels, visible over a dot of the
    /// same colour and around smaller rings.
    Ring(u8),
}

/// How one line (and its legend key) is drawn.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// The stroke colour.
    pub color: &'static str,
    /// The stroke width in pixels.
    pub width: f64,
    /// Whether the stroke is dashed.
    pub dashed: bool,
    /// The mark at each point.
    pub marker: Marker,
}

impl Style {
    /// The look of the simulator's series: ipi_steer thick, stock dashed.
    pub fn of(name: &str) -> Self {
        let (width, dashed) = match name {
            "ipi_steer" => (3.0, false),
            "stock" => (2.0, true),
            _ => (1.5, false),
        };
        Self {
            color: color(name),
            width,
            dashed,
            marker: Marker::None,
        }
    }
}

/// One named series of points (x, y); the line joins them in order.
pub struct Line<'a> {
    /// The legend label.
    pub name: &'a str,
    /// The points, in increasing x.
    pub points: Vec<(f64, f64)>,
    /// How the line is drawn.
    pub style: Style,
}

impl<'a> Line<'a> {
    /// A line in the simulator's look for `name`, one y per x.
    pub fn of(name: &'a str, xs: &[u64], ys: &[u64]) -> Self {
        Self {
            name,
            points: xs
                .iter()
                .zip(ys)
                .map(|(&x, &y)| (x as f64, y as f64))
                .collect(),
            style: Style::of(name),
        }
    }
}

/// One legend entry drawn without a line of its own.
pub struct Key<'a> {
    /// The label.
    pub label: &'a str,
    /// The sample stroke and marker.
    pub style: Style,
}

/// One panel: a y label, its lines and its legend.
pub struct Panel<'a> {
    /// The y axis label.
    pub ylabel: &'a str,
    /// The lines, drawn in order (later ones on top).
    pub lines: &'a [Line<'a>],
    /// The legend; empty means one key per line.
    pub legend: &'a [Key<'a>],
}

const W: f64 = 900.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 70.0;
const GAP: f64 = 60.0;

/// Returns the colour of a transport, policy or mode name.
pub fn color(name: &str) -> &'static str {
    match name {
        "x2apic" => "#1f77b4",
        "xapic" => "#17becf",
        "hypercall" => "#ff7f0e",
        "tdvmcall" => "#9467bd",
        "posted" => "#2ca02c",
        "stock" => "#7f7f7f",
        "ipi_steer" | "auto" => "#d62728",
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

/// The stroke attributes of `style`.
fn stroke(style: &Style) -> String {
    let dash = if style.dashed {
        r##" stroke-dasharray="6,4""##
    } else {
        ""
    };
    format!(
        r##"stroke="{}" stroke-width="{}"{dash}"##,
        style.color, style.width
    )
}

/// Draws `style`'s marker at (x, y).
fn marker(s: &mut String, style: &Style, x: f64, y: f64) {
    let c = style.color;
    let _ = match style.marker {
        Marker::None => Ok(()),
        Marker::Dot => writeln!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{c}"/>"##
        ),
        Marker::Ring(r) => writeln!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="none" stroke="{c}" stroke-width="1.5"/>"##
        ),
    };
}

/// Draws one legend entry at (lx, ly): a sample stroke and the label.
fn key(s: &mut String, lx: f64, ly: f64, label: &str, style: &Style) {
    let _ = writeln!(
        s,
        r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" {}/><text x="{:.1}" y="{:.1}">{}</text>"##,
        lx + 24.0,
        stroke(style),
        lx + 30.0,
        ly + 4.0,
        esc(label)
    );
    marker(s, style, lx + 12.0, ly);
}

/// Renders the panels as one SVG document.
pub fn render(title: &str, subtitle: &str, panels: &[Panel<'_>]) -> String {
    let h = TOP + panels.len() as f64 * (PANEL_H + GAP) + 20.0;
    let pw = W - LEFT - RIGHT;
    let xs = || {
        panels
            .iter()
            .flat_map(|p| p.lines.iter())
            .flat_map(|l| l.points.iter().map(|p| p.0))
    };
    let xmax = xs().fold(f64::NEG_INFINITY, f64::max).max(1.0);
    let xmin = xs().fold(f64::INFINITY, f64::min).min(xmax);
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
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(1.0, f64::max);
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
        let (lx, ly) = (LEFT + pw + 14.0, top + 14.0);
        for (li, line) in panel.lines.iter().enumerate() {
            let mut pts = String::new();
            for &(x, y) in &line.points {
                let _ = write!(pts, "{:.1},{:.1} ", px(x), py(y));
            }
            let _ = writeln!(
                s,
                r##"<polyline fill="none" {} points="{}"/>"##,
                stroke(&line.style),
                pts.trim_end()
            );
            for &(x, y) in &line.points {
                marker(&mut s, &line.style, px(x), py(y));
            }
            if panel.legend.is_empty() {
                key(&mut s, lx, ly + li as f64 * 18.0, line.name, &line.style);
            }
        }
        for (li, k) in panel.legend.iter().enumerate() {
            key(&mut s, lx, ly + li as f64 * 18.0, k.label, &k.style);
        }
    }
    s.push_str("</svg>\n");
    s
}
