//! The arithmetic of a calibration: CPU per request from a Deployment's intervals, and what the
//! data can and cannot tell.
//!
//! Over an interval of `Δt` seconds a pod that serves `R` requests per second, each taking `w`
//! CPU-seconds (mean `b`, standard deviation `σ`), and idles at `a` cores, uses on average
//! `C = a + b·R` cores: a line, whose slope is the CPU per request and whose intercept the idle
//! CPU. Across intervals the line is fitted by least squares. It takes a rate that moves to
//! separate the two: with a flat rate every interval sits at one point of the line, and only
//! the ratio `C / R` — an upper bound of the CPU per request, equal to it when idle CPU is
//! nil — is known ([`Identified::RatioOnly`]).
//!
//! The variability of the work comes from the scatter about the line: the `R·Δt` requests of
//! an interval add independent amounts, so their CPU varies by `σ²·R·Δt` CPU-seconds², and the
//! mean usage by `σ²·R / Δt` cores². Each interval's squared residual, scaled by `Δt / R`,
//! estimates `σ²`; their mean over the intervals, divided by `b`, is the coefficient of
//! variation. Anything else that moves the CPU (a neighbour, a GC, an unsteady scrape) adds to
//! the scatter, so this is an upper bound, and it is given only when the line is identified.

/// A least-squares line `y = intercept + slope·x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFit {
    /// Where it crosses x = 0.
    pub intercept: f64,
    /// Its slope.
    pub slope: f64,
    /// The share of y's variance the line explains (1 for a perfect fit; 0 when y is constant).
    pub r_squared: f64,
    /// The coefficient of variation of x over the points (its spread: what identifies the slope).
    pub x_cv: f64,
    /// Points fitted.
    pub n: usize,
}

/// Fits a line to `points`; `None` with fewer than two points or x all equal.
pub fn fit_line(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in points {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let r_squared = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        0.0
    };
    let x_cv = if mean_x != 0.0 {
        (sxx / nf).sqrt() / mean_x.abs()
    } else {
        f64::INFINITY
    };
    Some(LineFit {
        intercept,
        slope,
        r_squared,
        x_cv,
        n,
    })
}

/// A rate whose coefficient of variation across intervals is below this is "flat": it cannot
/// separate idle CPU from CPU per request.
pub const FLAT_RATE_CV: f64 = 0.10;

/// What the data identified.
#[derive(Clone, Debug, PartialEq)]
pub enum Identified {
    /// Idle CPU and CPU per request both (the rate moved enough).
    Both,
    /// Only the ratio of CPU to rate: an upper bound of the CPU per request. The sentence says
    /// why.
    RatioOnly(String),
}

/// A Deployment's CPU fitted from its intervals.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuFit {
    /// CPU-seconds per request (with [`Identified::RatioOnly`], the upper bound `C / R`).
    pub per_request_seconds: f64,
    /// Cores used with no request (`None` when not identified).
    pub idle_cores: Option<f64>,
    /// The coefficient of variation of the work per request (`None` when not identified).
    pub work_cv: Option<f64>,
    /// The line, when it was fitted.
    pub line: Option<LineFit>,
    /// What the data identified.
    pub identified: Identified,
}

/// Fits CPU per request from `(requests per second, cores)` per pod and interval, over
/// intervals of `interval_s` seconds. Intervals with no request are kept for the line (they
/// show the idle CPU) but not for the variability.
pub fn fit_cpu(intervals: &[(f64, f64)], interval_s: f64) -> Result<CpuFit, String> {
    let busy: Vec<(f64, f64)> = intervals.iter().copied().filter(|p| p.0 > 0.0).collect();
    if busy.len() < 3 {
        return Err(format!(
            "{} interval(s) with requests: at least 3 are needed to fit CPU per request",
            busy.len()
        ));
    }
    let mean = |f: fn(&(f64, f64)) -> f64| busy.iter().map(f).sum::<f64>() / busy.len() as f64;
    let ratio = mean(|p| p.1) / mean(|p| p.0);
    let line = fit_line(intervals);
    let flat = line.is_none_or(|l| l.x_cv < FLAT_RATE_CV);
    if flat {
        let cv = line.map_or(0.0, |l| l.x_cv);
        return Ok(CpuFit {
            per_request_seconds: ratio,
            idle_cores: None,
            work_cv: None,
            line,
            identified: Identified::RatioOnly(format!(
                "the request rate hardly moves (its coefficient of variation across intervals is {cv:.3}, under {FLAT_RATE_CV}): idle CPU and CPU per request cannot be told apart, so CPU / rate = {ratio:.6} s is an upper bound of the CPU per request (equal to it if the pods use no CPU when idle)"
            )),
        });
    }
    let line = line.expect("not flat, so fitted");
    if line.slope <= 0.0 {
        return Err(format!(
            "CPU does not grow with the request rate (slope {:.3e} s per request): the series may not belong together",
            line.slope
        ));
    }
    let variance = (busy.iter())
        .map(|&(rate, cores)| {
            let residual = cores - line.intercept - line.slope * rate;
            residual * residual * interval_s / rate
        })
        .sum::<f64>()
        / busy.len() as f64;
    Ok(CpuFit {
        per_request_seconds: line.slope,
        idle_cores: Some(line.intercept.max(0.0)),
        work_cv: Some(variance.sqrt() / line.slope),
        line: Some(line),
        identified: Identified::Both,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_through_exact_points() {
        // y = 0.05 + 0.02·x at x = 10, 20, 30: slope 0.02, intercept 0.05, R² 1;
        // x mean 20, population sd √(200/3) = 8.165: cv 0.408.
        let fit = fit_line(&[(10.0, 0.25), (20.0, 0.45), (30.0, 0.65)]).unwrap();
        assert!((fit.slope - 0.02).abs() < 1e-12 && (fit.intercept - 0.05).abs() < 1e-12);
        assert!((fit.r_squared - 1.0).abs() < 1e-12);
        assert!((fit.x_cv - 0.408_248).abs() < 1e-6);
        assert_eq!(fit_line(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn a_flat_rate_gives_only_an_upper_bound() {
        // 100 ± 2 req/s: cv 0.016. 0.1 idle + 0.01 s × 100 = 1.1 cores: the ratio is 0.011 s,
        // 10 % above the true 0.010 s.
        let intervals: Vec<(f64, f64)> = [98.0, 100.0, 102.0, 100.0]
            .iter()
            .map(|&r| (r, 0.1 + 0.01 * r))
            .collect();
        let fit = fit_cpu(&intervals, 60.0).unwrap();
        assert!(matches!(fit.identified, Identified::RatioOnly(_)));
        assert!((fit.per_request_seconds - 0.011).abs() < 1e-9);
        assert_eq!((fit.idle_cores, fit.work_cv), (None, None));
    }

    #[test]
    fn a_moving_rate_separates_idle_from_work_and_reads_the_scatter() {
        // Rates 20…200 req/s over 60 s intervals, 0.2 idle cores, 5 ms per request, and each
        // interval's CPU off the line by ±σ·√(R/Δt) with σ = 7.5 ms (cv 1.5): the squared
        // residuals scaled by Δt/R average σ² exactly, so the fit reads cv 1.5 back.
        let (b, sigma, dt) = (0.005, 0.0075, 60.0);
        let intervals: Vec<(f64, f64)> = (1..=10)
            .flat_map(|k| {
                let rate = 20.0 * k as f64;
                let off = sigma * (rate / dt).sqrt();
                [(rate, 0.2 + b * rate + off), (rate, 0.2 + b * rate - off)]
            })
            .collect();
        let fit = fit_cpu(&intervals, dt).unwrap();
        assert_eq!(fit.identified, Identified::Both);
        assert!((fit.per_request_seconds - b).abs() < 1e-12);
        assert!((fit.idle_cores.unwrap() - 0.2).abs() < 1e-9);
        assert!(
            (fit.work_cv.unwrap() - 1.5).abs() < 1e-9,
            "{:?}",
            fit.work_cv
        );
    }

    #[test]
    fn too_few_intervals_or_a_falling_line_are_errors() {
        assert!(
            fit_cpu(&[(1.0, 1.0), (2.0, 2.0)], 60.0)
                .unwrap_err()
                .contains("at least 3")
        );
        let falling = [(10.0, 1.0), (20.0, 0.8), (30.0, 0.5)];
        assert!(
            fit_cpu(&falling, 60.0)
                .unwrap_err()
                .contains("does not grow")
        );
    }
}
