//! JUnit XML for CI systems: one `<testsuite>` per scenario, one `<testcase>` per SLO.

use crate::metrics::Report;

/// One scenario's outcome for the JUnit file.
pub struct SuiteResult<'a> {
    pub scenario_file: &'a str,
    pub report: &'a Report,
    pub wall_seconds: f64,
}

/// The opening of the root element, which marks a JUnit file as kubesim's own.
pub const SUITES_OPENING: &str = "<testsuites name=\"kubesim\"";

pub fn render(suites: &[SuiteResult]) -> String {
    let tests: usize = suites.iter().map(|s| s.report.slos.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.report.slos.iter().filter(|x| !x.passed).count())
        .sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{SUITES_OPENING} tests=\"{tests}\" failures=\"{failures}\">\n"
    );
    for s in suites {
        let r = s.report;
        let failed = r.slos.iter().filter(|x| !x.passed).count();
        xml.push_str(&format!("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\" file=\"{}\">\n", escape(&r.scenario), r.slos.len(), s.wall_seconds, escape(s.scenario_file)));
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
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            escape("p99 <= 5ms & \"x\""),
            "p99 &lt;= 5ms &amp; &quot;x&quot;"
        );
    }
}
