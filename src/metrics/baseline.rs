//! Comparing a run with an earlier one (`kubesim check --baseline`): each Service's latency
//! percentiles and availability and the cluster's availability and cost, old → new, each with
//! a tolerance; a change for the worse beyond it is a regression.
//!
//! Both reports are read as JSON (`kubesim.report/v1`), so a baseline may come from another
//! kubesim version as long as the schema is the same.

use std::collections::BTreeMap;

use serde_json::Value;

/// A metric the comparison knows, with what "worse" means for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compared {
    /// A latency percentile (`p50`, `p95` or `p99`) of a Service's served requests, in ms;
    /// higher is worse.
    Latency(&'static str),
    /// served / requests as a fraction, of one Service or of the whole cluster; lower is
    /// worse.
    Availability,
    /// What the cluster's nodes cost over the run, USD (`totals.cost_usd`); higher is worse.
    Cost,
}

impl Compared {
    /// As `--tolerance` names it.
    pub fn name(self) -> String {
        match self {
            Compared::Latency(p) => format!("latency.{p}"),
            Compared::Availability => "availability".into(),
            Compared::Cost => "cost.total".into(),
        }
    }

    fn higher_is_worse(self) -> bool {
        !matches!(self, Compared::Availability)
    }

    /// The value as shown: ms, percent or USD.
    pub fn show(self, value: f64) -> String {
        match self {
            Compared::Latency(_) => format!("{value:.1} ms"),
            Compared::Availability => format!("{:.3} %", value * 100.0),
            Compared::Cost => format!("{value:.2} USD"),
        }
    }
}

const PERCENTILES: [&str; 3] = ["p50", "p95", "p99"];

/// The names `--tolerance` accepts (`cost` is short for `cost.total`).
const TOLERANCE_NAMES: [&str; 6] = [
    "latency",
    "latency.p50",
    "latency.p95",
    "latency.p99",
    "availability",
    "cost.total",
];

/// How much worse a metric may get: relative (latency, cost) or in percentage points
/// (availability).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// A fraction of the old value (0.1 = 10 %).
    Relative(f64),
    /// Absolute, in the metric's unit (availability: 0.001 = 0.1 percentage points).
    Absolute(f64),
}

impl Tolerance {
    pub(crate) fn show(self) -> String {
        match self {
            Tolerance::Relative(f) => format!("{}%", f * 100.0),
            Tolerance::Absolute(a) => format!("{} pt", a * 100.0),
        }
    }
}

/// Tolerances by metric name (`latency`, `latency.p99`, `availability`, `cost.total`); the
/// most specific name wins.
#[derive(Clone, Debug)]
pub struct Tolerances(BTreeMap<String, Tolerance>);

impl Default for Tolerances {
    /// latency 10 %, availability 0.1 percentage points, cost 5 %.
    fn default() -> Self {
        Tolerances(BTreeMap::from([
            ("latency".to_string(), Tolerance::Relative(0.10)),
            ("availability".to_string(), Tolerance::Absolute(0.001)),
            ("cost.total".to_string(), Tolerance::Relative(0.05)),
        ]))
    }
}

impl Tolerances {
    /// Sets one from `--tolerance NAME=VALUE` (`latency.p99=5%`, `availability=0.05%`,
    /// `cost=3%`).
    pub fn set(&mut self, text: &str) -> Result<(), String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: write METRIC=VALUE, e.g. latency.p99=5%"))?;
        let name = match name.trim() {
            "cost" => "cost.total",
            n => n,
        };
        if !TOLERANCE_NAMES.contains(&name) {
            let known = TOLERANCE_NAMES.join(", ");
            return Err(format!("{name:?} is not a compared metric; known: {known}"));
        }
        let percent = value
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("{value:?}: a tolerance is a percentage, e.g. {name}=5%"))?;
        let fraction = percent
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| format!("{value:?} is not a non-negative percentage"))?
            / 100.0;
        let tolerance = if name == "availability" {
            Tolerance::Absolute(fraction)
        } else {
            Tolerance::Relative(fraction)
        };
        self.0.insert(name.to_string(), tolerance);
        Ok(())
    }

    fn of(&self, metric: Compared) -> Tolerance {
        let name = metric.name();
        self.0
            .get(&name)
            .or_else(|| self.0.get(name.split('.').next().unwrap_or_default()))
            .copied()
            .unwrap_or(Tolerance::Relative(0.0))
    }
}

/// One metric, old → new.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// `service/NAME` or `cluster`.
    pub scope: String,
    /// The metric compared.
    pub metric: Compared,
    /// Its value in the baseline (the earlier report), in the metric's unit.
    pub old: f64,
    /// Its value in the report checked against the baseline.
    pub new: f64,
    /// The tolerance that applied: the most specific one set for the metric, else none
    /// (`Relative(0.0)`).
    pub tolerance: Tolerance,
    /// Whether `new` is worse than `old` by more than `tolerance` allows.
    pub regressed: bool,
}

impl Change {
    /// The change in the metric's terms: `+12.3 %` (relative) or `-0.050 pt` (availability).
    pub fn delta(&self) -> String {
        match self.metric {
            Compared::Availability => format!("{:+.3} pt", (self.new - self.old) * 100.0),
            _ if self.old == 0.0 => "–".into(),
            _ => format!("{:+.1} %", (self.new / self.old - 1.0) * 100.0),
        }
    }
}

/// A baseline's text as a report [`compare`] can read: JSON, kubesim's report schema, and
/// every field it compares of its type ([`check_shape`]); else what is wrong, for a message
/// that names the file.
pub fn parse_report(text: &str) -> Result<Value, String> {
    let report: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let schema = super::report::SCHEMA;
    if report["schema"].as_str() != Some(schema) {
        return Err(format!("not a kubesim report (\"schema\": \"{schema}\")"));
    }
    check_shape(&report)?;
    Ok(report)
}

/// Whether `report` has every field [`compare`] reads, of its type (a number, or null where a
/// report may have none); else the path of the first that does not and what is wrong. A
/// baseline that cannot be read must fail a CI gate, not pass it with nothing compared.
pub fn check_shape(report: &Value) -> Result<(), String> {
    let number = |v: &Value, path: &str| -> Result<(), String> {
        match v {
            Value::Number(_) | Value::Null => Ok(()),
            other => Err(format!("{path}: {other} is not a number")),
        }
    };
    let Some(services) = report["services"].as_array() else {
        return Err("services: missing, or not a list".into());
    };
    for (i, s) in services.iter().enumerate() {
        if !s["name"].is_string() {
            return Err(format!("services[{i}].name: missing, or not a name"));
        }
        if !s["requests"].is_u64() {
            return Err(format!("services[{i}].requests: missing, or not a count"));
        }
        for p in PERCENTILES {
            number(
                &s["latency_ms"][p],
                &format!("services[{i}].latency_ms.{p}"),
            )?;
        }
        number(&s["availability"], &format!("services[{i}].availability"))?;
    }
    for key in ["availability", "cost_usd"] {
        number(&report["totals"][key], &format!("totals.{key}"))?;
    }
    Ok(())
}

/// Compares two reports (as JSON). Services are matched by name; one missing from either side,
/// or without requests in either, is not compared.
pub fn compare(old: &Value, new: &Value, tolerances: &Tolerances) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |scope: String, metric: Compared, old: Option<f64>, new: Option<f64>| {
        if let (Some(old), Some(new)) = (old, new) {
            let tolerance = tolerances.of(metric);
            let regressed = is_regression(metric, old, new, tolerance);
            changes.push(Change {
                scope,
                metric,
                old,
                new,
                tolerance,
                regressed,
            });
        }
    };
    let services = |r: &Value| -> BTreeMap<String, Value> {
        r["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["requests"].as_u64().is_some_and(|n| n > 0))
            .filter_map(|s| Some((s["name"].as_str()?.to_string(), s.clone())))
            .collect()
    };
    let old_services = services(old);
    for (name, n) in services(new) {
        let Some(o) = old_services.get(&name) else {
            continue;
        };
        let scope = format!("service/{name}");
        for p in PERCENTILES {
            let value = |r: &Value| r["latency_ms"][p].as_f64();
            push(scope.clone(), Compared::Latency(p), value(o), value(&n));
        }
        let availability = |r: &Value| r["availability"].as_f64();
        push(
            scope,
            Compared::Availability,
            availability(o),
            availability(&n),
        );
    }
    let totals = |r: &Value, key: &str| r["totals"][key].as_f64();
    let cluster = || "cluster".to_string();
    push(
        cluster(),
        Compared::Availability,
        totals(old, "availability"),
        totals(new, "availability"),
    );
    push(
        cluster(),
        Compared::Cost,
        totals(old, "cost_usd"),
        totals(new, "cost_usd"),
    );
    changes
}

/// Whether `new` is worse than `old` by more than `tolerance`.
fn is_regression(metric: Compared, old: f64, new: f64, tolerance: Tolerance) -> bool {
    let worse_by = if metric.higher_is_worse() {
        new - old
    } else {
        old - new
    };
    let allowed = match tolerance {
        Tolerance::Relative(f) => old.abs() * f,
        Tolerance::Absolute(a) => a,
    };
    // A hair of slack for values that went through decimal JSON.
    worse_by > allowed + 1e-9 * old.abs().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(p99: f64, availability: f64, cost: f64) -> Value {
        json!({
            "services": [{"name": "web", "requests": 100, "availability": availability,
                          "latency_ms": {"p50": 10.0, "p95": 50.0, "p99": p99}}],
            "totals": {"availability": availability, "cost_usd": cost}
        })
    }

    fn regressed(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .filter(|c| c.regressed)
            .map(|c| format!("{} {}", c.scope, c.metric.name()))
            .collect()
    }

    #[test]
    fn an_identical_run_passes() {
        let r = report(200.0, 0.999, 1.5);
        let changes = compare(&r, &r, &Tolerances::default());
        // 3 percentiles + availability for web, availability and cost for the cluster.
        assert_eq!(changes.len(), 6);
        assert!(regressed(&changes).is_empty());
    }

    #[test]
    fn regressions_beyond_the_tolerance_fail_and_within_it_pass() {
        let old = report(200.0, 0.999, 1.0);
        // p99 200 → 219 ms is +9.5 % (within 10 %); cost 1.00 → 1.06 USD is +6 % (over 5 %);
        // availability 99.9 → 99.85 % is −0.05 pt (within 0.1 pt).
        let new = report(219.0, 0.9985, 1.06);
        assert_eq!(
            regressed(&compare(&old, &new, &Tolerances::default())),
            ["cluster cost.total"]
        );
        // p99 200 → 221 ms is +10.5 %: over; availability −0.2 pt: over (web and cluster).
        let worse = report(221.0, 0.997, 1.0);
        assert_eq!(
            regressed(&compare(&old, &worse, &Tolerances::default())),
            [
                "service/web latency.p99",
                "service/web availability",
                "cluster availability"
            ]
        );
    }

    #[test]
    fn improvements_never_fail_and_specific_tolerances_win() {
        let old = report(200.0, 0.99, 1.0);
        let better = report(100.0, 1.0, 0.5);
        assert!(regressed(&compare(&old, &better, &Tolerances::default())).is_empty());
        let mut strict = Tolerances::default();
        strict.set("latency.p99=1%").unwrap();
        // 200 → 203 ms is +1.5 %: over latency.p99's 1 %, while p50/p95 keep latency's 10 %.
        let new = report(203.0, 0.99, 1.0);
        assert_eq!(
            regressed(&compare(&old, &new, &strict)),
            ["service/web latency.p99"]
        );
    }

    #[test]
    fn tolerance_flags_are_checked() {
        let mut t = Tolerances::default();
        assert!(t.set("cost=3%").is_ok());
        assert_eq!(t.of(Compared::Cost), Tolerance::Relative(0.03));
        assert!(t.set("availability=0.05%").is_ok());
        assert_eq!(t.of(Compared::Availability), Tolerance::Absolute(0.0005));
        for bad in ["latency.p98=5%", "latency=5", "latency=-1%", "latency"] {
            assert!(t.set(bad).is_err(), "{bad}");
        }
    }
}
