//! Pictures of a week simulation for analysts, with plotters: a heatmap of mean wait by weekday
//! and hour, and the simulated waits beside the Erlang estimate. Each chart is written as SVG
//! and PNG.
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

/// Writes `<stem>.svg` and `<stem>.png` of the mean wait of one queue's cells.
pub fn heatmap(cells: &[&CellSummary], title: &str, stem: &Path) -> Result<(), PlotError> {
    write_svg_and_png(&Heatmap { cells, title }, stem)
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

struct Heatmap<'a> {
    cells: &'a [&'a CellSummary],
    title: &'a str,
}

impl Chart for Heatmap<'_> {
    const SIZE: (u32, u32) = (1000, 420);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        draw_heatmap(area, self.cells, self.title)
    }
}

struct Scatter<'a> {
    points: &'a [(f64, f64)],
    title: &'a str,
}

impl Chart for Scatter<'_> {
    const SIZE: (u32, u32) = (640, 560);
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        draw_scatter(area, self.points, self.title)
    }
}

fn draw_heatmap<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    cells: &[&CellSummary],
    title: &str,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let max_s = cells.iter().filter_map(|c| c.mean_wait_s).fold(60.0f64, f64::max);
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d((0u32..23).into_segmented(), (0u32..6).into_segmented())
        .map_err(err)?;
    // Segmented axes put each label in the middle of its hour or day.
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
    let at = |c: &CellSummary| (c.hour as u32, 6 - c.weekday.num_days_from_monday());
    chart
        .draw_series(cells.iter().map(|c| {
            let (x, y) = at(c);
            let style = match c.mean_wait_s {
                Some(w) if c.offered > 0.0 => colour(w, max_s).filled(),
                _ => RGBColor(235, 235, 235).filled(),
            };
            Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                style,
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(cells.iter().filter(|c| c.offered > 0.0).filter_map(|c| {
            let w = c.mean_wait_s?;
            let (x, y) = at(c);
            let style = ("sans-serif", 13).into_font().into_text_style(&area).pos(Pos::new(HPos::Center, VPos::Center));
            Some(Text::new(format!("{w:.0}"), (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)), style))
        }))
        .map_err(err)?;
    area.present().map_err(err)
}

/// Writes `<stem>.svg` and `<stem>.png`: simulated mean wait against the formula's, per
/// weekday-hour, one point per cell, with the diagonal where both agree.
pub fn against_formula(points: &[(f64, f64)], title: &str, stem: &Path) -> Result<(), PlotError> {
    write_svg_and_png(&Scatter { points, title }, stem)
}

fn draw_scatter<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    points: &[(f64, f64)],
    title: &str,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let max = points.iter().map(|(a, b)| a.max(*b)).fold(10.0f64, f64::max) * 1.05;
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
        .y_desc("simulated mean wait, s")
        .draw()
        .map_err(err)?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (max, max)], BLACK.mix(0.4))).map_err(err)?;
    chart.draw_series(points.iter().map(|&(f, s)| Circle::new((f, s), 3, BLUE.mix(0.7).filled()))).map_err(err)?;
    area.present().map_err(err)
}
