//! JUnit XML for CI systems: one `<testsuite>` per scenario, one `<testcase>` per SLO.

use super::html::escape;
use crate::metrics::Report;
use crate::metrics::baseline::Change;

/// One scenario's outcome for the JUnit file.
pub struct SuiteResult<'a> {
    /// The scenario file as given on the command line (the suite's `file` attribute).
    pub scenario_file: &'a str,
    /// The run's report: its scenario names the suite, and each SLO is a test case.
    pub report: &'a Report,
    /// How long the simulation took, in wall-clock seconds (the suite's `time` attribute).
    pub wall_seconds: f64,
    /// The comparison with a baseline run (`check --baseline`): a test case per metric.
    pub baseline: &'a [Change],
}

/// The opening of the root element, which marks a JUnit file as kubesim's own.
pub const SUITES_OPENING: &str = "<testsuites name=\"kubesim\"";

/// The JUnit XML of `kubesim check --junit`: a `<testsuite>` per scenario, a `<testcase>` per
/// SLO and per metric compared with the baseline, with a `<failure>` for each that failed.
pub fn render(suites: &[SuiteResult]) -> String {
    let tests: usize = suites.iter().map(SuiteResult::tests).sum();
    let failures: usize = suites.iter().map(SuiteResult::failures).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{SUITES_OPENING} tests=\"{tests}\" failures=\"{failures}\">\n"
    );
    for s in suites {
        let r = s.report;
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\" file=\"{}\">\n",
            escape(&r.scenario),
            s.tests(),
            s.failures(),
            s.wall_seconds,
            escape(s.scenario_file)
        ));
        for slo in &r.slos {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&r.scenario),
                escape(&slo.name)
            ));
            if slo.passed {
                xml.push_str("/>\n");
            } else {
                let actual = slo.actual.map_or("no data".to_string(), |a| a.to_string());
                let message = format!(
                    "{} (actual {actual}, threshold {})",
                    slo.assertion, slo.threshold
                );
                xml.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"SloViolation\"/>\n    </testcase>\n",
                    escape(&message)
                ));
            }
        }
        for c in s.baseline {
            baseline_case(&mut xml, &r.scenario, c);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

impl SuiteResult<'_> {
    fn tests(&self) -> usize {
        self.report.slos.len() + self.baseline.len()
    }

    fn failures(&self) -> usize {
        let slos = self.report.slos.iter().filter(|x| !x.passed).count();
        slos + self.baseline.iter().filter(|c| c.regressed).count()
    }
}

/// One metric compared with the baseline: `baseline service/web latency.p99`, failing with
/// `183.2 ms → 221.0 ms (+20.6 %), tolerance 10%` when it regressed.
fn baseline_case(xml: &mut String, scenario: &str, c: &Change) {
    let name = format!("baseline {} {}", c.scope, c.metric.name());
    xml.push_str(&format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        escape(scenario),
        escape(&name)
    ));
    if !c.regressed {
        xml.push_str("/>\n");
        return;
    }
    let message = format!(
        "{} → {} ({}), tolerance {}",
        c.metric.show(c.old),
        c.metric.show(c.new),
        c.delta(),
        c.tolerance.show()
    );
    xml.push_str(&format!(
        ">\n      <failure message=\"{}\" type=\"BaselineRegression\"/>\n    </testcase>\n",
        escape(&message)
    ));
}

#[cfg(test)]
mod tests {
    use super::super::html::escape;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("p99 <= 5ms & \"x\""),
            "p99 &lt;= 5ms &amp; &quot;x&quot;"
        );
    }
}
