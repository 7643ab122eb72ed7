//! The mean of a metric over a variant's replications and its 95 % confidence interval
//! (Student's t, as replications are few).

use serde::{Deserialize, Serialize};

/// A metric over the replications of one variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean of the replications that measured it (`None`: none did, e.g. no request served).
    pub mean: Option<f64>,
    /// Half-width of the 95 % confidence interval of the mean (`None`: fewer than two values).
    pub ci95: Option<f64>,
    /// Each replication's value, in replication order.
    pub values: Vec<Option<f64>>,
}

impl Stat {
    pub fn of(values: Vec<Option<f64>>) -> Stat {
        let measured: Vec<f64> = values.iter().flatten().copied().collect();
        let n = measured.len();
        let mean = (n > 0).then(|| measured.iter().sum::<f64>() / n as f64);
        let ci95 = mean.filter(|_| n >= 2).map(|m| {
            let var = measured.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
            t_975(n as u64 - 1) * (var / n as f64).sqrt()
        });
        Stat { mean, ci95, values }
    }
}

/// Student's t 0.975 quantiles for 1–30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom: the table up to 30, then
/// the Cornish–Fisher expansion around the normal quantile (within 0.001 of the exact value).
pub fn t_975(df: u64) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    if let Some(t) = T_975.get(df as usize - 1) {
        return *t;
    }
    let z: f64 = 1.959_964;
    let d = df as f64;
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_interval_of_known_samples() {
        // 1, 2, 3: mean 2, sd 1, t(2) = 4.303 → half-width 4.303 / √3 = 2.4843.
        let s = Stat::of(vec![Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(s.mean, Some(2.0));
        assert!((s.ci95.unwrap() - 2.4843).abs() < 1e-4, "{s:?}");
        // A missing value is left out: mean of 4 alone, no interval from one value.
        let s = Stat::of(vec![None, Some(4.0)]);
        assert_eq!((s.mean, s.ci95), (Some(4.0), None));
        assert_eq!(Stat::of(vec![None]).mean, None);
    }

    #[test]
    fn t_quantiles_continue_past_the_table() {
        // Exact values: t(30) = 2.0423, t(60) = 2.0003, t(120) = 1.9799, t(∞) = 1.9600.
        for (df, exact) in [
            (30, 2.0423),
            (31, 2.0395),
            (60, 2.0003),
            (120, 1.9799),
            (100_000, 1.9600),
        ] {
            assert!((t_975(df) - exact).abs() < 1e-3, "{df}: {}", t_975(df));
        }
    }
}
