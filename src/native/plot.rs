//! The report charts (`pff report`) as SVG, drawn with the `plotters` crate: a line chart (dev
//! accuracy per epoch) and a scatter plot of labelled 2-D points (the latent map), each with
//! axes, axis names and a legend. Tick labels, axis names and legends are SVG `<text>` elements
//! that the viewer sets in its own sans-serif font, so no font file is needed (plotters is built
//! without its bitmap and font features). Image grids stay PNG ([`super::image`]).

use crate::error::{PffError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Okabe–Ito palette (colour-blind safe), then two extra colours.
pub const PALETTE: [[u8; 3]; 10] =
    [[0, 114, 178], [230, 159, 0], [0, 158, 115], [204, 121, 167], [86, 180, 233], [213, 94, 0], [240, 228, 66], [0, 0, 0], [120, 120, 120], [170, 68, 153]];

/// Dark grey of the axes, tick labels and axis names.
const INK: RGBColor = RGBColor(60, 60, 60);
/// Grid lines at the labelled ticks.
const GRID: RGBColor = RGBColor(228, 228, 228);
const FONT: &str = "sans-serif";

/// plotters' font size that gives `px` pixels in the SVG (it writes `size / 1.24`).
fn font(px: f64) -> FontDesc<'static> {
    (FONT, px * 1.24).into_font()
}

/// One line of a [`line_chart`]: its name in the legend, its (x, y) points and its colour.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub colour: [u8; 3],
}

fn rgb([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}

fn drawing_error(e: impl std::fmt::Display) -> PffError {
    PffError::Input(format!("cannot draw the chart: {e}"))
}

/// Drops the attributes plotters writes with their SVG default values (`opacity="1"`, and
/// `stroke="none" stroke-width="1"` on filled shapes), which would otherwise make up half the
/// bytes of a scatter plot's `<circle>` elements.
fn compact(svg: String) -> String {
    svg.replace(r#" opacity="1""#, "").replace(r#" stroke="none" stroke-width="1""#, "")
}

/// Draws on a white `w`×`h` SVG canvas and returns the document.
fn svg(w: u32, h: u32, draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(compact(out))
}

/// The (min, max) of `values`, widened to a span of at least `min_span`.
fn extent(values: impl Iterator<Item = f64>, min_span: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi - lo >= min_span { (lo, hi) } else { ((lo + hi - min_span) / 2.0, (lo + hi + min_span) / 2.0) }
}

/// `v` with the fewest decimals (up to 3) that show it: a tick label.
fn short(v: f64) -> String {
    let digits = (0..3).find(|&d| {
        let scaled = v * 10f64.powi(d as i32);
        (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
    });
    format!("{v:.*}", digits.unwrap_or(3))
}

/// A line chart of `series` (each drawn with a dot at every point) over their shared x range
/// and `y_range`, as a `w`×`h` SVG document: axes with tick labels (whole numbers on x;
/// percentages on y when `y_percent`), grid lines at the y ticks, the axis names `x_name` and
/// `y_name`, and a legend of the series' labels in the lower right corner.
pub fn line_chart(series: &[Series], y_range: (f64, f64), y_percent: bool, (x_name, y_name): (&str, &str), (w, h): (u32, u32)) -> Result<String> {
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(PffError::Input("a line chart needs at least one point".into()));
    }
    let (x0, x1) = extent(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), 1.0);
    let (y0, y1) = y_range;
    let drawable = [x0, x1, y0, y1].iter().all(|v| v.is_finite()) && y1 > y0;
    if !drawable {
        return Err(PffError::Input(format!("cannot draw a line chart over x {x0}..{x1}, y {y0}..{y1}")));
    }
    // At most one x label per whole number, so that plotters' steps (1, 2 or 5 × 10ⁿ) are whole.
    let x_labels = ((x1 - x0).round() as usize + 1).min(12);
    let y_format = |v: &f64| if y_percent { format!("{}%", short(100.0 * v)) } else { short(*v) };
    let x_format = |v: &f64| format!("{v:.0}");
    svg(w, h, |root| {
        let mut chart =
            ChartBuilder::on(root).margin(14).x_label_area_size(46).y_label_area_size(64).build_cartesian_2d(x0..x1, y0..y1).map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_labels(x_labels)
            .y_labels(11)
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(INK)
            .label_style(font(12.0).color(&INK))
            .axis_desc_style(font(14.0).color(&INK))
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()
            .map_err(drawing_error)?;
        for s in series {
            let c = rgb(s.colour);
            chart
                .draw_series(LineSeries::new(s.points.iter().map(|&(x, y)| (x, y.clamp(y0, y1))), c.stroke_width(2)).point_size(2))
                .map_err(drawing_error)?
                .label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .margin(10)
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .label_font(font(14.0).color(&INK))
            .draw()
            .map_err(drawing_error)
    })
}

/// A scatter plot of labelled 2-D points as a `w`×`h` SVG document: one filled circle per
/// point (radius 2, in the points' order, coloured by label with [`PALETTE`]), axes with tick
/// labels and the names `x_name` and `y_name`, and a legend to the right of the plot that
/// names every label by `class_names` (a label without a name is shown as its number).
pub fn scatter(points: &[(f64, f64, usize)], class_names: &[String], (x_name, y_name): (&str, &str), (w, h): (u32, u32)) -> Result<String> {
    if points.is_empty() {
        return Err(PffError::Input("a scatter plot needs at least one point".into()));
    }
    if points.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
        return Err(PffError::NonFinite("a point of the scatter plot is NaN or infinite".into()));
    }
    let classes = class_names.len().max(points.iter().map(|p| p.2 + 1).max().unwrap_or(0));
    let name = |l: usize| class_names.get(l).cloned().unwrap_or_else(|| l.to_string());
    let pad = |(lo, hi): (f64, f64)| (lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo));
    let (x0, x1) = pad(extent(points.iter().map(|p| p.0), 1e-9));
    let (y0, y1) = pad(extent(points.iter().map(|p| p.1), 1e-9));
    // The legend's width: a marker, margins and ~8 pixels per character at 14 pixels.
    let longest = (0..classes).map(|l| name(l).chars().count()).max().unwrap_or(1);
    let legend_w = 50 + 8 * longest as u32;
    let colour = |l: usize| rgb(PALETTE[l % PALETTE.len()]);
    svg(w, h, |root| {
        let (plot_area, legend) = root.split_horizontally(w.saturating_sub(legend_w));
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(14)
            .margin_right(6)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing_error)?;
        let format = |v: &f64| short(*v);
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&format)
            .y_label_formatter(&format)
            .disable_mesh()
            .axis_style(INK)
            .label_style(font(12.0).color(&INK))
            .axis_desc_style(font(14.0).color(&INK))
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()
            .map_err(drawing_error)?;
        // All points in their own order, so that no class hides another.
        chart.draw_series(points.iter().map(|&(x, y, l)| Circle::new((x, y), 2u32, colour(l).filled()))).map_err(drawing_error)?;
        // The legend: a square marker (so that the document's circles are the points) and the
        // name of every class, in a box beside the plot's top.
        let row = ((h as i32 - 40) / classes.max(1) as i32).clamp(8, 20);
        let top = 14;
        let right = legend_w as i32 - 14;
        legend.draw(&Rectangle::new([(0, top), (right, top + 8 + row * classes as i32)], INK.stroke_width(1))).map_err(drawing_error)?;
        let style = TextStyle::from(font(14.0)).color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
        for l in 0..classes {
            let y = top + 4 + row * l as i32 + row / 2;
            legend.draw(&Rectangle::new([(10, y - 5), (20, y + 5)], colour(l).filled())).map_err(drawing_error)?;
            legend.draw(&Text::new(name(l), (28, y), style.clone())).map_err(drawing_error)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `svg` is well-formed XML as far as these documents use it (one root element,
    /// nested and closed elements, `name="value"` attributes, text without markup) and returns
    /// its elements in order: (name, attributes, text directly inside).
    fn elements(svg: &str) -> std::result::Result<Vec<(String, String, String)>, String> {
        let (mut out, mut open, mut roots) = (Vec::<(String, String, String)>::new(), Vec::<(String, usize)>::new(), 0);
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            if text.contains('>') || text.contains("&") && !text.contains("&amp;") {
                return Err(format!("markup in text {text:?}"));
            }
            match open.last() {
                Some(&(_, e)) => out[e].2.push_str(text.trim()),
                None if !text.trim().is_empty() => return Err(format!("text outside the root: {text:?}")),
                None => {}
            }
            let end = rest[i..].find('>').ok_or("an unclosed tag")? + i;
            let tag = &rest[i + 1..end];
            rest = &rest[end + 1..];
            if let Some(decl) = tag.strip_prefix('?') {
                if !decl.ends_with('?') || roots > 0 {
                    return Err(format!("bad declaration <{tag}>"));
                }
            } else if let Some(name) = tag.strip_prefix('/') {
                let (top, _) = open.pop().ok_or(format!("</{name}> closes nothing"))?;
                if top != name.trim() {
                    return Err(format!("</{name}> closes <{top}>"));
                }
            } else {
                let body = tag.strip_suffix('/').unwrap_or(tag);
                let (name, mut attrs) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                    return Err(format!("bad element name in <{tag}>"));
                }
                let all_attrs = attrs.trim().to_string();
                while !attrs.trim().is_empty() {
                    let (key, after) = attrs.trim_start().split_once("=\"").ok_or(format!("bad attribute in <{tag}>"))?;
                    let (_, after) = after.split_once('"').ok_or(format!("unclosed attribute in <{tag}>"))?;
                    if key.is_empty() || key.contains(char::is_whitespace) {
                        return Err(format!("bad attribute name {key:?}"));
                    }
                    attrs = after;
                }
                if open.is_empty() {
                    roots += 1;
                }
                out.push((name.to_string(), all_attrs, String::new()));
                if !tag.ends_with('/') {
                    open.push((name.to_string(), out.len() - 1));
                }
            }
        }
        if !rest.trim().is_empty() || !open.is_empty() || roots != 1 {
            return Err(format!("{roots} root elements, {open:?} left open, {rest:?} after the root"));
        }
        Ok(out)
    }

    fn text_of(svg: &str) -> Vec<String> {
        elements(svg).unwrap().into_iter().filter(|e| e.0 == "text").map(|e| e.2).collect()
    }

    #[test]
    fn the_checker_refuses_broken_documents() {
        assert!(elements("<svg><text>a</text></svg>").is_ok());
        for bad in ["<svg><text>a</svg>", "<svg></svg><svg/>", "<svg a=\"1></svg>", "<svg><g></svg></g>", "<svg>1 > 0</svg>", "x<svg/>"] {
            assert!(elements(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_line_chart_has_its_axis_names_percent_ticks_legend_and_line() {
        let points: Vec<(f64, f64)> = (1..=40).map(|e| (e as f64, 0.9 + 0.08 * (1.0 - 1.0 / e as f64))).collect();
        let s = Series { label: "mnist-web".into(), points, colour: PALETTE[0] };
        let svg = line_chart(&[s], (0.9, 1.0), true, ("epoch", "dev accuracy"), (640, 360)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(r#"width="640" height="360""#), "{}", &svg[..200]);
        let texts = text_of(&svg);
        for t in ["epoch", "dev accuracy", "mnist-web", "90%", "95%", "100%", "10", "40"] {
            assert!(texts.iter().any(|x| x == t), "no text {t:?} in {texts:?}");
        }
        assert!(!texts.iter().any(|x| x.contains('.')), "whole epochs and whole percents: {texts:?}");
        let els = elements(&svg).unwrap();
        let line = els.iter().find(|e| e.0 == "polyline" && e.1.contains("#0072B2")).expect("the series' line");
        let coords = line.1.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(coords.split_whitespace().count(), 40, "one vertex per epoch: {coords}");
        assert_eq!(els.iter().filter(|e| e.0 == "circle").count(), 40, "one dot per epoch");
        // narrow ranges get decimals rather than repeated labels
        let s = Series { label: "a".into(), points: vec![(1.0, 0.97), (2.0, 0.975)], colour: PALETTE[1] };
        let texts = text_of(&line_chart(&[s], (0.97, 0.98), true, ("epoch", "dev accuracy"), (640, 360)).unwrap());
        assert!(texts.iter().any(|x| x == "97.5%") && texts.iter().any(|x| x == "2"), "{texts:?}");
        assert!(line_chart(&[], (0.0, 1.0), true, ("x", "y"), (100, 100)).is_err());
    }

    #[test]
    fn a_scatter_plot_has_one_circle_per_point_and_names_every_class_in_its_legend() {
        let names: Vec<String> =
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"].map(String::from).into();
        // 3000 points, as the report draws, spread over a few hundred pixels
        let points: Vec<(f64, f64, usize)> =
            (0..3000).map(|i| ((i as f64 * 0.37).sin() * 40.0 + i as f64 * 0.01, (i as f64 * 0.11).cos() * 25.0, i % 10)).collect();
        let svg = scatter(&points, &names, ("principal component 1", "principal component 2"), (640, 500)).unwrap();
        let els = elements(&svg).unwrap();
        let circles: Vec<_> = els.iter().filter(|e| e.0 == "circle").collect();
        assert_eq!(circles.len(), points.len());
        for (c, p) in circles.iter().zip(&points) {
            let [r, g, b] = PALETTE[p.2];
            assert!(c.1.contains(&format!("fill=\"#{r:02X}{g:02X}{b:02X}\"")) && c.1.contains("r=\"2\""), "{c:?} for {p:?}");
        }
        let texts = text_of(&svg);
        for t in names.iter().map(String::as_str).chain(["principal component 1", "principal component 2"]) {
            assert_eq!(texts.iter().filter(|x| *x == t).count(), 1, "{t:?} in {texts:?}");
        }
        assert!(svg.len() < 200_000, "{} bytes for 3000 points", svg.len());
        // labels without a name are numbered
        let svg = scatter(&[(0.0, 0.0, 0), (1.0, 2.0, 2)], &names[..1], ("x", "y"), (400, 300)).unwrap();
        let texts = text_of(&svg);
        assert_eq!(texts[texts.len() - 3..], ["T-shirt/top", "1", "2"], "the legend comes last: {texts:?}");
        assert!(scatter(&[], &names, ("x", "y"), (400, 300)).is_err());
        assert!(scatter(&[(f64::NAN, 0.0, 0)], &names, ("x", "y"), (400, 300)).is_err());
    }
}
