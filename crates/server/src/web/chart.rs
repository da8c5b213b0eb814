//! Trend charts as inline SVG drawn by the server: values over time, the reference range as a
//! shaded band, each point titled with its date, value and source. No script, no web font.

use std::fmt::Write as _;

use super::html::{day, esc};

/// One measured value.
pub struct Point {
    pub date: String,
    pub value: f64,
    pub source: String,
}

const W: f64 = 360.0;
const H: f64 = 150.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The chart of `points` (any order) with the reference range `low`–`high` when known.
/// `label` names the chart for screen readers.
pub fn trend(
    label: &str,
    unit: &str,
    points: &[Point],
    low: Option<f64>,
    high: Option<f64>,
) -> String {
    let (low, high) = (
        low.filter(|v| v.is_finite()),
        high.filter(|v| v.is_finite()),
    );
    let mut pts: Vec<(i64, &Point)> = points
        .iter()
        .filter(|p| p.value.is_finite())
        .filter_map(|p| app::dates::day_number(p.date.get(..10).unwrap_or(&p.date)).map(|d| (d, p)))
        .collect();
    pts.sort_by_key(|(d, _)| *d);
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(label),
        esc(label)
    );
    if pts.is_empty() {
        out.push_str("</svg>");
        return out;
    }
    let mut lo = pts
        .iter()
        .map(|(_, p)| p.value)
        .fold(f64::INFINITY, f64::min);
    let mut hi = pts
        .iter()
        .map(|(_, p)| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    for r in [low, high].into_iter().flatten() {
        lo = lo.min(r);
        hi = hi.max(r);
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let (d0, d1) = (pts[0].0, pts[pts.len() - 1].0);
    let x = |d: i64| {
        if d1 == d0 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (d - d0) as f64 / (d1 - d0) as f64 * (W - LEFT - RIGHT)
        }
    };
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    // The plot area and the reference band.
    let _ = write!(
        out,
        "<rect class=\"plot\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\"/>",
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    if let (Some(l), Some(h)) = (low, high) {
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{LEFT}\" y=\"{:.1}\" width=\"{}\" height=\"{:.1}\"><title>基準範囲 reference {}–{} {}</title></rect>",
            y(h),
            W - LEFT - RIGHT,
            (y(l) - y(h)).max(0.5),
            num(l),
            num(h),
            esc(unit)
        );
    }
    // Axis labels: the value range and the first and last dates.
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        LEFT - 4.0,
        TOP + 8.0,
        num(hi),
        LEFT - 4.0,
        H - BOTTOM,
        num(lo)
    );
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{}\">{}</text>",
        H - 10.0,
        esc(&day(&pts[0].1.date))
    );
    if d1 != d0 {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            H - 10.0,
            esc(&day(&pts[pts.len() - 1].1.date))
        );
    }
    if pts.len() > 1 {
        out.push_str("<polyline class=\"line\" points=\"");
        for (d, p) in &pts {
            let _ = write!(out, "{:.1},{:.1} ", x(*d), y(p.value));
        }
        out.push_str("\"/>");
    }
    for (d, p) in &pts {
        let out_of_range = low.is_some_and(|l| p.value < l) || high.is_some_and(|h| p.value > h);
        let _ = write!(
            out,
            "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{} {} {} — {}</title></circle>",
            if out_of_range { "pt abnormal" } else { "pt" },
            x(*d),
            y(p.value),
            esc(&day(&p.date)),
            num(p.value),
            esc(unit),
            esc(&p.source)
        );
    }
    out.push_str("</svg>");
    out
}

/// A sparkline of `values` (oldest first), `label` naming it for screen readers: a line scaled
/// from zero to the largest value, no axes.
pub fn spark(label: &str, values: &[f64]) -> String {
    const SW: f64 = 160.0;
    const SH: f64 = 32.0;
    // One value is drawn as a level line across.
    let one;
    let values = match values {
        [v] => {
            one = [*v, *v];
            &one[..]
        }
        _ => values,
    };
    let top = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let step = if values.len() > 1 {
        SW / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        let v = if v.is_finite() { *v } else { 0.0 };
        let y = if top > 0.0 {
            SH - 2.0 - (v / top) * (SH - 4.0)
        } else {
            SH - 2.0
        };
        let _ = write!(points, "{:.1},{:.1} ", i as f64 * step, y);
    }
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {SW} {SH}\" width=\"{SW}\" height=\"{SH}\" role=\"img\" aria-label=\"{}\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        esc(label),
        points.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(date: &str, value: f64) -> Point {
        Point {
            date: date.into(),
            value,
            source: "A病院".into(),
        }
    }

    #[test]
    fn draws_points_line_and_band_in_time_order() {
        let svg = trend(
            "HbA1c",
            "%",
            &[p("2026-06-01", 6.5), p("2025-06-01", 5.5)],
            Some(4.9),
            Some(6.0),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("class=\"band\""));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("pt abnormal"), "6.5 is above the range");
        let first = svg.find("2025/06/01").unwrap();
        let last = svg.rfind("2026/06/01").unwrap();
        assert!(first < last);
        assert!(svg.contains("<polyline"));
    }

    #[test]
    fn no_points_is_an_empty_chart_and_markup_is_escaped() {
        let svg = trend("<x>", "", &[], None, None);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<circle"));
    }

    #[test]
    fn a_sparkline_scales_from_zero_to_the_largest_value() {
        let s = super::spark("req/s <5>", &[0.0, 5.0, 10.0]);
        assert!(s.contains("aria-label=\"req/s &lt;5&gt;\""), "{s}");
        assert!(s.contains("points=\"0.0,30.0 80.0,16.0 160.0,2.0\""), "{s}");
        let one = super::spark("x", &[3.0]);
        assert!(one.contains("points=\"0.0,2.0 160.0,2.0\""), "{one}");
        let flat = super::spark("x", &[0.0, f64::NAN]);
        assert!(flat.contains("points=\"0.0,30.0 160.0,30.0\""), "{flat}");
    }
}
