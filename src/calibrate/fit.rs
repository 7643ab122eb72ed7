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
//! mean usage by `σ²·R / Δt` cores². The squared residuals summed, over those variances
//! summed (per unit `σ²`), estimate `σ²`; its root divided by `b` is the coefficient of
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
    /// The slope's standard error (infinite with two points).
    pub slope_se: f64,
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
    let residual_ss = (syy - slope * sxy).max(0.0);
    let slope_se = match n > 2 {
        true => (residual_ss / (nf - 2.0) / sxx).sqrt(),
        false => f64::INFINITY,
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
        slope_se,
        n,
    })
}

/// A rate whose coefficient of variation across intervals is below this is "flat": it cannot
/// separate idle CPU from CPU per request.
pub const FLAT_RATE_CV: f64 = 0.10;

/// A slope is taken as measured only when it is this many standard errors above nil: below,
/// the rate moved by chance (a few requests a minute) and CPU did not visibly follow.
pub const SLOPE_T: f64 = 3.0;

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
    /// Its standard error from the number of intervals alone: `cv / √(2(N − 2))`, as a
    /// variance read from `N − 2` degrees of freedom is known to `√(2 / (N − 2))` of itself.
    /// Scatter from anything but the work (a neighbour, an unsteady scrape) is not in it.
    pub work_cv_standard_error: Option<f64>,
    /// The line, when it was fitted.
    pub line: Option<LineFit>,
    /// What the data identified.
    pub identified: Identified,
}

/// One interval of a Deployment: its request rate and CPU, each per pod (the Service's totals
/// divided by the pods that ran throughout), and how many pods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuPoint {
    /// Requests per second per pod.
    pub rate: f64,
    /// Cores per pod.
    pub cores: f64,
    /// Pods.
    pub pods: usize,
}

/// Fits CPU per request from per-pod intervals of `interval_s` seconds. Intervals with no
/// request are kept for the line (they show the idle CPU) but not for the variability. The
/// pods' work adds up, so the total CPU of `n` pods at `n·r` requests per second varies by
/// `σ²·n·r / Δt` cores², and the per-pod mean by `σ²·r / (n·Δt)`: each squared residual is
/// scaled by `n·Δt / r`.
pub fn fit_cpu(intervals: &[CpuPoint], interval_s: f64) -> Result<CpuFit, String> {
    let busy: Vec<CpuPoint> = intervals.iter().copied().filter(|p| p.rate > 0.0).collect();
    if busy.len() < 3 {
        return Err(format!(
            "{} interval(s) with requests in which every pod ran throughout: at least 3 are needed to fit CPU per request",
            busy.len()
        ));
    }
    let mean = |f: fn(&CpuPoint) -> f64| busy.iter().map(f).sum::<f64>() / busy.len() as f64;
    let ratio = mean(|p| p.cores) / mean(|p| p.rate);
    let points: Vec<(f64, f64)> = intervals.iter().map(|p| (p.rate, p.cores)).collect();
    let line = fit_line(&points);
    let why_not = match line {
        None => Some("the request rate per pod never moves".to_string()),
        Some(l) if l.x_cv < FLAT_RATE_CV => Some(format!(
            "the request rate per pod hardly moves (its coefficient of variation across intervals is {:.3}, under {FLAT_RATE_CV})",
            l.x_cv
        )),
        Some(l) if l.slope < SLOPE_T * l.slope_se => Some(format!(
            "CPU does not visibly follow the request rate (slope {:.3} ± {:.3} ms per request, R² {:.3})",
            l.slope * 1e3,
            l.slope_se * 1e3,
            l.r_squared
        )),
        Some(_) => None,
    };
    if let Some(why) = why_not {
        return Ok(CpuFit {
            per_request_seconds: ratio,
            idle_cores: None,
            work_cv: None,
            work_cv_standard_error: None,
            line,
            identified: Identified::RatioOnly(format!(
                "{why}: idle CPU and CPU per request cannot be told apart, so CPU / rate = {:.3} ms is an upper bound of the CPU per request (equal to it if the pods use no CPU when idle)",
                ratio * 1000.0
            )),
        });
    }
    let line = line.expect("identified, so fitted");
    let work_variance = pooled_work_variance(&busy, &line, interval_s);
    let work_cv = work_variance.sqrt() / line.slope;
    let degrees = (busy.len() as f64 - 2.0).max(1.0);
    Ok(CpuFit {
        per_request_seconds: line.slope,
        idle_cores: Some(line.intercept.max(0.0)),
        work_cv: Some(work_cv),
        work_cv_standard_error: Some(work_cv / (2.0 * degrees).sqrt()),
        line: Some(line),
        identified: Identified::Both,
    })
}

/// The variance of one request's work, `σ²`, from the scatter of the busy intervals about the
/// line. Interval `i`'s residual has variance `σ²·vᵢ` with `vᵢ = rᵢ / (nᵢ·Δt)`, so the pooled
/// estimate is `Σ residual² / Σ vᵢ` — each interval weighted by how much scatter its load
/// explains, so that a nearly idle interval at the edge of the data (one request, and CPU the
/// scrape split with its neighbour) cannot dominate, as it does in a mean of `residual² / vᵢ`
/// — times `N / (N − 2)` for the two parameters of the line.
fn pooled_work_variance(busy: &[CpuPoint], line: &LineFit, interval_s: f64) -> f64 {
    let residuals: f64 = (busy.iter())
        .map(|p| (p.cores - line.intercept - line.slope * p.rate).powi(2))
        .sum();
    let explained: f64 = (busy.iter())
        .map(|p| p.rate / (p.pods as f64 * interval_s))
        .sum();
    let n = busy.len() as f64;
    let degrees = if n > 2.0 { n / (n - 2.0) } else { 1.0 };
    residuals / explained * degrees
}

/// A pod's working set fitted against its requests in flight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryFit {
    /// Bytes with nothing in flight.
    pub base_bytes: f64,
    /// Bytes per request in flight (`None`: not identified, taken as 0).
    pub per_in_flight_bytes: Option<f64>,
}

/// Fits `memory = base + k · in_flight` over `(in-flight requests per pod, bytes per pod)`;
/// with in-flight counts that hardly move (or none known), the base is the mean and `k` is not
/// identified.
pub fn fit_memory(points: &[(f64, f64)]) -> Option<MemoryFit> {
    if points.is_empty() {
        return None;
    }
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let flat = MemoryFit {
        base_bytes: mean,
        per_in_flight_bytes: None,
    };
    let Some(line) = fit_line(points).filter(|l| l.x_cv >= FLAT_RATE_CV) else {
        return Some(flat);
    };
    if line.slope <= 0.0 || line.intercept <= 0.0 {
        return Some(flat);
    }
    Some(MemoryFit {
        base_bytes: line.intercept,
        per_in_flight_bytes: Some(line.slope),
    })
}

/// The mean and coefficient of variation of `samples` (population), or `None` for fewer than
/// three or a mean that is not positive.
pub fn mean_and_cv(samples: &[f64]) -> Option<(f64, f64)> {
    if samples.len() < 3 {
        return None;
    }
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let variance = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Some((mean, variance.sqrt() / mean))
}

/// Start-up time (mean, cv) from times each known only to the step `step_s` (the ready
/// instant is somewhere in one step; the middle was taken): the mean as is, the variance less
/// the `step²/12` the rounding adds (Sheppard's correction), not below nil.
pub fn startup_time(samples: &[f64], step_s: f64) -> Option<(f64, f64)> {
    let (mean, cv) = mean_and_cv(samples)?;
    let variance = ((cv * mean).powi(2) - step_s * step_s / 12.0).max(0.0);
    Some((mean, variance.sqrt() / mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64, cores: f64, pods: usize) -> CpuPoint {
        CpuPoint { rate, cores, pods }
    }

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
        let intervals: Vec<CpuPoint> = [98.0, 100.0, 102.0, 100.0]
            .iter()
            .map(|&r| point(r, 0.1 + 0.01 * r, 1))
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
        // residuals sum to σ² times the sum of R/Δt exactly, so the pooled variance is σ², and
        // with the 20 intervals' correction for the line's two parameters the cv read back is
        // 1.5·√(20/18) = 1.5811. With 4 pods the per-pod mean's scatter is halved
        // (σ·√(r/(n·Δt))), and the division by n undoes it.
        let (b, sigma, dt) = (0.005, 0.0075, 60.0);
        let intervals: Vec<CpuPoint> = (1..=10)
            .flat_map(|k| {
                let rate = 20.0 * k as f64;
                let pods = if k % 2 == 0 { 4 } else { 1 };
                let off = sigma * (rate / dt / pods as f64).sqrt();
                let line = 0.2 + b * rate;
                [point(rate, line + off, pods), point(rate, line - off, pods)]
            })
            .collect();
        let fit = fit_cpu(&intervals, dt).unwrap();
        assert_eq!(fit.identified, Identified::Both);
        assert!((fit.per_request_seconds - b).abs() < 1e-12);
        assert!((fit.idle_cores.unwrap() - 0.2).abs() < 1e-9);
        assert!(
            (fit.work_cv.unwrap() - 1.5 * (20.0f64 / 18.0).sqrt()).abs() < 1e-9,
            "{:?}",
            fit.work_cv
        );
    }

    #[test]
    fn a_nearly_idle_edge_interval_does_not_dominate_the_scatter() {
        // validation (c)'s shape: 5 s intervals at 40 ± 4 req/s, 4 ms per request, σ = 2 ms
        // (cv 0.5), and a last interval with one request (0.2 req/s) whose CPU is 2.25 m cores
        // off the line (its neighbour's requests' CPU). A mean of residual²·Δt/R weighs that
        // interval 200 times the others (Δt/R = 25 against 0.125): cv 0.75. Pooled, it adds
        // 5.1e-6 cores² to the 24 intervals' 7.68e-4 and 0.04 to their Σ R/Δt of 192; with the
        // line's 25/23: σ² = 4.38e-6, cv 0.52.
        let (b, sigma, dt): (f64, f64, f64) = (0.004, 0.002, 5.0);
        let mut intervals: Vec<CpuPoint> = (0..24)
            .map(|k| {
                let rate = if k % 4 < 2 { 36.0 } else { 44.0 };
                let off = sigma * (rate / dt).sqrt() * if k % 2 == 0 { 1.0 } else { -1.0 };
                point(rate, b * rate + off, 1)
            })
            .collect();
        intervals.push(point(0.2, b * 0.2 + 0.002_25, 1));
        let cv = fit_cpu(&intervals, dt).unwrap().work_cv.unwrap();
        assert!((cv - 0.5).abs() < 0.05, "{cv}");
        // 25 busy intervals: 23 degrees of freedom, a standard error of cv / √46.
        let se = fit_cpu(&intervals, dt)
            .unwrap()
            .work_cv_standard_error
            .unwrap();
        assert!((se - cv / 46f64.sqrt()).abs() < 1e-12, "{se}");
    }

    #[test]
    fn too_few_intervals_or_a_line_lost_in_noise_give_no_slope() {
        assert!(
            fit_cpu(&[point(1.0, 1.0, 1), point(2.0, 2.0, 1)], 60.0)
                .unwrap_err()
                .contains("at least 3")
        );
        // A falling line: slope −25 ms, not 3 standard errors above nil: only the ratio
        // (0.767 cores / 20 req/s = 38.3 ms) is given.
        let falling = [
            point(10.0, 1.0, 1),
            point(20.0, 0.8, 1),
            point(30.0, 0.5, 1),
        ];
        let fit = fit_cpu(&falling, 60.0).unwrap();
        let why = match &fit.identified {
            Identified::RatioOnly(why) => why.clone(),
            other => panic!("{other:?}"),
        };
        assert!(why.contains("does not visibly follow"), "{why}");
        assert!((fit.per_request_seconds - 0.038_333).abs() < 1e-6);
    }

    #[test]
    fn memory_and_startup_summaries() {
        // 100 MiB + 1 MiB per request in flight, at 2…10 in flight.
        let mib = 1_048_576.0;
        let points: Vec<(f64, f64)> = (1..=5)
            .map(|k| (2.0 * k as f64, (100.0 + 2.0 * k as f64) * mib))
            .collect();
        let fit = fit_memory(&points).unwrap();
        assert!((fit.base_bytes / mib - 100.0).abs() < 1e-9);
        assert!((fit.per_in_flight_bytes.unwrap() / mib - 1.0).abs() < 1e-9);
        // A flat load: the mean, and no per-request term.
        let flat = fit_memory(&[(5.0, 10.0), (5.0, 14.0)]).unwrap();
        assert_eq!((flat.base_bytes, flat.per_in_flight_bytes), (12.0, None));
        // 10, 20, 30 s: mean 20, population sd √(200/3) = 8.165, cv 0.408.
        let (mean, cv) = mean_and_cv(&[10.0, 20.0, 30.0]).unwrap();
        assert!((mean - 20.0).abs() < 1e-12 && (cv - 0.408_248).abs() < 1e-6);
        assert_eq!(mean_and_cv(&[1.0, 2.0]), None);
        // A 6 s step adds 36/12 = 3 s² of rounding: 200/3 − 3 = 63.67 s², sd 7.979, cv 0.399.
        let (_, cv) = startup_time(&[10.0, 20.0, 30.0], 6.0).unwrap();
        assert!((cv - 0.398_957).abs() < 1e-5, "{cv}");
    }
}
