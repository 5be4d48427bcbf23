//! Pictures of a week simulation for analysts, with plotters: a heatmap of mean wait by weekday
//! and hour (a colour scale with its unit beside it; closed hours grey; cells with too few
//! callers or too wide an interval pale and hatched), and the simulated waits beside the Erlang
//! estimate with their 99% intervals. Each chart is written as SVG and PNG. `report --out`
//! draws its calls heatmap with the same `WeekHeatmap`.
//!
//! It lives with the simulator (`sim::plot`) because it draws only the simulator's
//! [`CellSummary`] rows; `simulate --out` calls it. It is the one part of `sim/` that writes
//! files, and nothing in `sim/` calls it: the simulation itself stays free of I/O.
//!
//! Text is drawn with the DejaVu Sans font shipped in `assets/fonts` (registered once), so the
//! charts look the same on a machine without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::calendar::{WEEKDAYS, day_abbrev};
use crate::sim::week::CellSummary;

static FONT: Once = Once::new();

#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    path: String,
    message: String,
}

fn register_font() {
    FONT.call_once(|| {
        // Registering fails only for a malformed font file, and this one is built in.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
        );
    });
}

/// Colour for a wait: green when short, through yellow, to red at `max_s` and beyond.
fn colour(wait_s: f64, max_s: f64) -> RGBColor {
    let x = (wait_s / max_s.max(1.0)).clamp(0.0, 1.0);
    let (r, g) = if x < 0.5 { ((510.0 * x) as u8, 200) } else { (255, (200.0 * (2.0 - 2.0 * x)) as u8) };
    RGBColor(r, g, 60)
}

/// Colour for a count of calls: light to dark blue up to `max`; even the lightest stands apart
/// from the grey of an hour without calls.
fn blue(calls: f64, max: f64) -> RGBColor {
    let x = (calls / max.max(1.0)).clamp(0.0, 1.0);
    RGBColor((190.0 - 150.0 * x) as u8, (215.0 - 130.0 * x) as u8, 250)
}

/// The fill of a cell without data: a closed hour, or no calls.
const EMPTY: RGBColor = RGBColor(235, 235, 235);

/// Writes `<stem>.svg` and `<stem>.png` of the mean wait of one queue's cells. `weeks_run` is
/// weeks × replications: cells whose wait is not [`CellSummary::reliable`] over that many weeks
/// are hatched and pale, with their number in grey, rather than painted as if they were known.
pub fn heatmap(cells: &[&CellSummary], weeks_run: f64, title: &str, stem: &Path) -> Result<(), PlotError> {
    // The scale ends at the longest wait that can be trusted, so one noisy cell does not wash
    // out the rest.
    let max_s = cells.iter().filter(|c| c.reliable(weeks_run)).filter_map(|c| c.mean_wait_s).fold(60.0f64, f64::max);
    let cells = cells
        .iter()
        .map(|c| {
            let wait = c.mean_wait_s.filter(|_| c.offered > 0.0);
            GridCell {
                day: c.weekday.num_days_from_monday(),
                hour: c.hour as u32,
                fill: wait.map_or(EMPTY, |w| colour(w, max_s)),
                label: wait.map(|w| format!("{w:.0}")),
                uncertain: wait.is_some() && !c.reliable(weeks_run),
            }
        })
        .collect();
    let legend = Legend {
        title: "mean wait, s",
        max: max_s,
        open_ended: true,
        scale: colour,
        empty: "closed or no calls",
        uncertain: Some(format!("< {:.0} callers or 99% interval wider than the wait", crate::sim::week::MIN_CALLERS)),
    };
    write_svg_and_png(&WeekHeatmap { title, cells, legend }, stem)
}

/// A chart drawable on any plotters backend, so that one function writes both files.
trait Chart {
    const SIZE: (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String>;
}

/// Writes `<stem>.svg` and `<stem>.png` of a chart.
fn write_svg_and_png<C: Chart>(chart: &C, stem: &Path) -> Result<(), PlotError> {
    register_font();
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    chart
        .draw(SVGBackend::new(&svg, C::SIZE).into_drawing_area())
        .map_err(|message| PlotError { path: svg.display().to_string(), message })?;
    chart
        .draw(BitMapBackend::new(&png, C::SIZE).into_drawing_area())
        .map_err(|message| PlotError { path: png.display().to_string(), message })
}

struct Scatter<'a> {
    points: &'a [Versus],
    title: &'a str,
}

impl Chart for Scatter<'_> {
    const SIZE: (u32, u32) = (640, 560);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        draw_scatter(area, self.points, self.title)
    }
}

/// One square of a weekday × hour heatmap (Monday is day 0), with its label in the middle.
struct GridCell {
    day: u32,
    hour: u32,
    fill: RGBColor,
    label: Option<String>,
    /// Too little data to read on its own: drawn pale and hatched, its label grey.
    uncertain: bool,
}

/// The colour scale beside a heatmap, with its unit, and what the grey and hatched cells mean.
struct Legend {
    /// What the colours measure, with the unit: `mean wait, s`.
    title: &'static str,
    /// The value at the top of the scale.
    max: f64,
    /// Whether values beyond `max` take its colour (the label says `60+`).
    open_ended: bool,
    scale: fn(f64, f64) -> RGBColor,
    /// What a grey cell means.
    empty: &'static str,
    /// What a hatched cell means, when some can be.
    uncertain: Option<String>,
}

/// A weekday × hour heatmap, the simulator's waits and the report's calls alike.
struct WeekHeatmap<'a> {
    title: &'a str,
    cells: Vec<GridCell>,
    legend: Legend,
}

/// Diagonal lines across a pixel rectangle, `gap` apart.
fn hatch(x0: i32, y0: i32, x1: i32, y1: i32, gap: i32) -> Vec<PathElement<(i32, i32)>> {
    let (w, h) = (x1 - x0, y1 - y0);
    let style = ShapeStyle::from(&RGBColor(150, 150, 150)).stroke_width(1);
    // Points (x0 + t + s, y1 − s) for s in 0..=h, kept where x stays inside the rectangle.
    (-h..w)
        .step_by(usize::try_from(gap.max(1)).unwrap_or(1))
        .filter_map(|t| {
            let (lo, hi) = ((-t).max(0), h.min(w - t));
            (lo < hi).then(|| PathElement::new(vec![(x0 + t + lo, y1 - lo), (x0 + t + hi, y1 - hi)], style))
        })
        .collect()
}

impl Chart for WeekHeatmap<'_> {
    const SIZE: (u32, u32) = (1180, 440);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let (grid, side) = area.split_horizontally(1000);
        let mut chart = ChartBuilder::on(&grid)
            .caption(self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((0u32..23).into_segmented(), (0u32..6).into_segmented())
            .map_err(err)?;
        // Segmented axes put each label in the middle of its hour or day; Monday is on top.
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(24)
            .y_labels(7)
            .x_desc("hour of the day")
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(h) => format!("{h}"),
                _ => String::new(),
            })
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(d) => {
                    WEEKDAYS.get(6usize.saturating_sub(*d as usize)).map_or("", |&d| day_abbrev(d)).to_owned()
                }
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        let at = |c: &GridCell| (c.hour, 6 - c.day.min(6));
        let corners = |c: &GridCell| {
            let (x, y) = at(c);
            [(SegmentValue::Exact(x), SegmentValue::Exact(y)), (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1))]
        };
        chart
            .draw_series(self.cells.iter().map(|c| {
                let fill = if c.uncertain { c.fill.mix(0.35) } else { c.fill.mix(1.0) };
                Rectangle::new(corners(c), fill.filled())
            }))
            .map_err(err)?;
        for c in self.cells.iter().filter(|c| c.uncertain) {
            let [a, b] = corners(c);
            let ((x0, y1), (x1, y0)) = (chart.backend_coord(&a), chart.backend_coord(&b));
            for line in hatch(x0, y0, x1, y1, 7) {
                grid.draw(&line).map_err(err)?;
            }
        }
        chart
            .draw_series(self.cells.iter().filter_map(|c| {
                let (x, y) = at(c);
                let colour = if c.uncertain { RGBColor(110, 110, 110) } else { BLACK };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&colour)
                    .into_text_style(&grid)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                Some(Text::new(c.label.clone()?, (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)), style))
            }))
            .map_err(err)?;
        draw_legend(&side, &self.legend).map_err(err)?;
        area.present().map_err(err)
    }
}

/// The colour bar (0 at the bottom, `max` and beyond at the top) with its unit, then a grey and
/// a hatched swatch with what they mean.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    legend: &Legend,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = |size: i32| ("sans-serif", size).into_font().into_text_style(area);
    let (x0, x1, top, bottom) = (10, 34, 60, 250);
    area.draw(&Text::new(legend.title, (x0, top - 24), text(14)))?;
    for y in top..bottom {
        let value = legend.max * f64::from(bottom - 1 - y) / f64::from(bottom - 1 - top);
        area.draw(&Rectangle::new([(x0, y), (x1, y + 1)], (legend.scale)(value, legend.max).filled()))?;
    }
    area.draw(&Rectangle::new([(x0, top), (x1, bottom)], BLACK.stroke_width(1)))?;
    for i in 0..=4 {
        let value = legend.max * f64::from(i) / 4.0;
        let y = bottom - (bottom - top) * i / 4;
        area.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], BLACK))?;
        let plus = if i == 4 && legend.open_ended { "+" } else { "" };
        let style = text(12).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(format!("{value:.0}{plus}"), (x1 + 7, y), style))?;
    }
    // Swatches, each with a short explanation wrapped under it.
    let mut y = bottom + 20;
    let mut swatch = |hatched: bool, words: &str| -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let fill = if hatched { EMPTY.mix(0.35) } else { EMPTY.mix(1.0) };
        area.draw(&Rectangle::new([(x0, y), (x1, y + 18)], fill.filled()))?;
        if hatched {
            for line in hatch(x0, y, x1, y + 18, 7) {
                area.draw(&line)?;
            }
        }
        area.draw(&Rectangle::new([(x0, y), (x1, y + 18)], RGBColor(150, 150, 150).stroke_width(1)))?;
        for (i, line) in wrap(words, 18).iter().enumerate() {
            let row = y + 2 + 14 * i32::try_from(i).unwrap_or(0);
            area.draw(&Text::new(line.clone(), (x1 + 6, row), text(11)))?;
        }
        y += 22 + 14 * i32::try_from(wrap(words, 18).len().saturating_sub(1)).unwrap_or(0);
        Ok(())
    };
    swatch(false, legend.empty)?;
    if let Some(words) = &legend.uncertain {
        swatch(true, words)?;
    }
    Ok(())
}

/// Words in lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(words: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in words.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// One weekday-hour of a queue: the formula's mean wait, the simulated one and its 99% interval
/// half-width across replications (none with one replication).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Versus {
    pub formula_s: f64,
    pub simulated_s: f64,
    pub ci99_s: Option<f64>,
}

/// Writes `<stem>.svg` and `<stem>.png`: simulated mean wait against the formula's, per
/// weekday-hour, one point per cell with its 99% interval, and the diagonal where both agree.
pub fn against_formula(points: &[Versus], title: &str, stem: &Path) -> Result<(), PlotError> {
    write_svg_and_png(&Scatter { points, title }, stem)
}

fn draw_scatter<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    points: &[Versus],
    title: &str,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let max = points.iter().map(|p| p.formula_s.max(p.simulated_s)).fold(10.0f64, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..max, 0.0..max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("Erlang estimate of mean wait, s")
        .y_desc("simulated mean wait, s (bars: 99% interval)")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (max, max)], BLACK.mix(0.4)))
        .map_err(err)?
        .label("equal")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.4)));
    chart
        .draw_series(points.iter().filter_map(|p| {
            let ci = p.ci99_s?;
            let (lo, hi) = ((p.simulated_s - ci).max(0.0), (p.simulated_s + ci).min(max));
            Some(ErrorBar::new_vertical(p.formula_s, lo, p.simulated_s, hi, BLUE.mix(0.35).filled(), 5))
        }))
        .map_err(err)?;
    chart
        .draw_series(points.iter().map(|p| Circle::new((p.formula_s, p.simulated_s), 3, BLUE.mix(0.7).filled())))
        .map_err(err)?
        .label("one weekday-hour")
        .legend(|(x, y)| Circle::new((x + 8, y), 3, BLUE.mix(0.7).filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    area.present().map_err(err)
}

/// Writes the charts of `switchboard report --out DIR`: `dropoff.svg/png`, each node's callers
/// and how many hung up or pressed 0 there, and `calls_heatmap.svg/png`, calls by weekday and
/// hour. They share this module's style with the simulator's.
pub fn report_charts(report: &crate::events::report::Report, dir: &Path) -> Result<(), PlotError> {
    write_svg_and_png(&DropOff { report }, &dir.join("dropoff"))?;
    let max = report.by_hour.iter().map(|c| c.calls).max().unwrap_or(1) as f64;
    let cells = (0..7u32)
        .flat_map(|d| (0..24u32).map(move |h| (d, h)))
        .map(|(day, hour)| {
            let calls = report.cell(day as usize, hour);
            let fill = if calls == 0 { EMPTY } else { blue(calls as f64, max) };
            GridCell { day, hour, fill, label: (calls > 0).then(|| calls.to_string()), uncertain: false }
        })
        .collect();
    let legend = Legend { title: "calls", max, open_ended: false, scale: blue, empty: "no calls", uncertain: None };
    write_svg_and_png(&WeekHeatmap { title: "calls by weekday and hour", cells, legend }, &dir.join("calls_heatmap"))
}

/// One of a node's counts.
type NodeCount = fn(&crate::events::report::NodeStats) -> u64;

struct DropOff<'a> {
    report: &'a crate::events::report::Report,
}

impl Chart for DropOff<'_> {
    const SIZE: (u32, u32) = (1000, 560);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        // The nodes most callers reach, at most 20, busiest first.
        let mut nodes: Vec<_> = self.report.nodes.iter().collect();
        nodes.sort_by(|a, b| b.entered.cmp(&a.entered).then(a.id.cmp(&b.id)));
        nodes.truncate(20);
        let n = u32::try_from(nodes.len()).unwrap_or(20).max(1);
        let max = nodes.iter().map(|n| n.entered).max().unwrap_or(1).max(1) as f64 * 1.1;
        // Horizontal bars, the busiest node on top, so that node ids read across.
        let mut chart = ChartBuilder::on(&area)
            .caption("callers per node: entered, hung up, pressed 0", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..max, (0u32..n - 1).into_segmented())
            .map_err(err)?;
        let labels: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let row = |i: usize| n - 1 - u32::try_from(i).unwrap_or(0);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(labels.len())
            .x_desc("calls")
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(r) => {
                    labels.get((n - 1).saturating_sub(*r) as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        // Overlaid, largest first: what is left of the blue bar went on through the flow.
        let bars: [(&str, RGBColor, NodeCount); 3] = [
            ("entered", RGBColor(120, 160, 220), |s| s.entered),
            ("hung up (stacked on pressed 0)", RGBColor(220, 70, 60), |s| s.hangups + s.escapes),
            ("pressed 0", RGBColor(240, 170, 40), |s| s.escapes),
        ];
        for (label, colour, value) in bars {
            chart
                .draw_series(nodes.iter().enumerate().map(|(i, s)| {
                    let (y, v) = (row(i), value(s) as f64);
                    Rectangle::new(
                        [(0.0, SegmentValue::Exact(y)), (v, SegmentValue::Exact(y + 1))],
                        colour.mix(0.55).filled(),
                    )
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
        area.present().map_err(err)
    }
}
