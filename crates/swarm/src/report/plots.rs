//! SVG plots (plotters): the latency percentile spectrum on a log axis, and
//! time series (throughput, p99, connected clients).

use plotters::prelude::*;

/// Colours of successive series.
const COLOURS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One named line: (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// The percentile spectrum: x is 1 / (1 - percentile) on a log axis
/// (labelled 90%, 99%, 99.9%...), y the latency in ms on a log axis.
pub fn spectrum(title: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    let pts: Vec<Series> = series
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                v.iter()
                    .filter(|(q, _)| *q < 1.0)
                    .map(|(q, ms)| (1.0 / (1.0 - q), ms.max(0.001)))
                    .collect(),
            )
        })
        .collect();
    // Up to the next power of ten, so that the last percentile has a tick.
    let x_max = 10f64
        .powf(
            pts.iter()
                .flat_map(|(_, v)| v.iter().map(|p| p.0))
                .fold(100.0f64, f64::max)
                .log10()
                .floor()
                + 1.0,
        )
        .min(1e7);
    let (y_min, y_max) = bounds(&pts);
    {
        let root = SVGBackend::with_string(&mut svg, (860, 420)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..y_max).log_scale());
        let Ok(mut chart) = chart else {
            return svg_error(title);
        };
        let _ = chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x))
            .draw();
        draw_series(&mut chart, &pts);
        let _ = root.present();
    }
    svg
}

fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 99.0 {
        format!("{p:.0}%")
    } else {
        let digits = (-(1.0 - p / 100.0).log10()).round() as usize;
        format!("{p:.*}%", digits.saturating_sub(2))
    }
}

fn bounds(series: &[Series]) -> (f64, f64) {
    let ys = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    if hi <= 0.0 {
        (0.001, 1.0)
    } else {
        ((lo * 0.8).max(0.001), hi * 1.25)
    }
}

fn draw_series<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[Series],
) where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if let Ok(a) =
            chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
        {
            a.label(name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        }
    }
    let _ = chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw();
}

/// A time series chart: x in seconds, linear y from 0.
pub fn timeline(title: &str, y_desc: &str, series: &[Series]) -> String {
    timeline_with_windows(title, y_desc, series, &[])
}

/// [`timeline`] with the run's fault windows (begin and end, seconds)
/// shaded behind the series.
pub fn timeline_with_windows(
    title: &str,
    y_desc: &str,
    series: &[Series],
    windows: &[(f64, f64)],
) -> String {
    let mut svg = String::new();
    let x_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    {
        let root = SVGBackend::with_string(&mut svg, (860, 300)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max);
        let Ok(mut chart) = chart else {
            return svg_error(title);
        };
        let _ = chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(y_desc)
            .draw();
        let _ = chart.draw_series(windows.iter().map(|&(a, b)| {
            Rectangle::new(
                [(a.min(x_max), 0.0), (b.min(x_max), y_max)],
                RED.mix(0.15).filled(),
            )
        }));
        draw_series(&mut chart, series);
        let _ = root.present();
    }
    svg
}

/// A step chart: x the offered rate, y latency (log) — for capacity steps.
pub fn steps(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    slo: Option<f64>,
) -> String {
    let mut svg = String::new();
    let x_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(1.0f64, f64::max)
        * 1.05;
    let (mut y_min, mut y_max) = bounds(series);
    if let Some(s) = slo {
        y_min = y_min.min(s * 0.5);
        y_max = y_max.max(s * 1.5);
    }
    {
        let root = SVGBackend::with_string(&mut svg, (860, 360)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, (y_min..y_max).log_scale());
        let Ok(mut chart) = chart else {
            return svg_error(title);
        };
        let _ = chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw();
        let mut all: Vec<Series> = series.to_vec();
        if let Some(s) = slo {
            all.push(("SLO".into(), vec![(0.0, s), (x_max, s)]));
        }
        draw_series(&mut chart, &all);
        let _ = root.present();
    }
    svg
}

fn svg_error(title: &str) -> String {
    format!("<p>({title}: nothing to plot)</p>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_with_their_labels() {
        let s = spectrum(
            "spectrum",
            &[(
                "corrected".into(),
                vec![(0.5, 1.0), (0.99, 10.0), (0.999, 500.0)],
            )],
        );
        assert!(
            s.starts_with("<svg") && s.contains("corrected") && s.contains("99.9%"),
            "{s}"
        );
        let t = timeline(
            "rate",
            "msg/s",
            &[("sent".into(), vec![(1.0, 10.0), (2.0, 20.0)])],
        );
        assert!(t.starts_with("<svg") && t.contains("sent"));
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1000.0), "99.9%");
    }
}
