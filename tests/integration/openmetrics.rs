//! `kubesim run --openmetrics FILE`: the export follows the OpenMetrics rules Prometheus' own
//! parser does not check (families contiguous, each series increasing in time, counters named
//! `_total`, histograms cumulative with `+Inf`), its values are the run's, it does not change
//! the run, and it never overwrites a file kubesim did not write. (CI also backfills it with
//! promtool: tools/openmetrics/promtool-check.py.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::{kubesim, scratch, stderr};

/// One sample line: its metric name, labels (as written, without `le`), `le`, value and
/// timestamp.
struct Sample {
    name: String,
    labels: String,
    le: Option<String>,
    value: f64,
    ms: i64,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(ok_first)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Parses `{a="x",b="y"}` strictly (no spaces, no trailing comma, escapes `\\ \" \n` only),
/// returning the pairs.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest
            .find("=\"")
            .unwrap_or_else(|| panic!("label without =\": {text}"));
        let name = &rest[..eq];
        assert!(is_name(name, false), "label name {name:?} in {text}");
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break eq + 2 + i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("escape {other:?} in {text}"),
                },
                Some((_, c)) => value.push(c),
                None => panic!("unterminated value in {text}"),
            }
        };
        pairs.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            assert!(!r.is_empty(), "trailing comma in {text}");
            rest = r;
        }
    }
    pairs
}

fn parse_sample(line: &str) -> Sample {
    let (series, rest) = match line.find('{') {
        Some(_) => {
            let close = line
                .rfind("} ")
                .unwrap_or_else(|| panic!("no }} in {line}"));
            (&line[..close + 1], &line[close + 2..])
        }
        None => line
            .split_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}")),
    };
    let (name, labels) = match series.split_once('{') {
        Some((n, l)) => (n, l.strip_suffix('}').unwrap()),
        None => (series, ""),
    };
    assert!(is_name(name, true), "metric name {name:?}");
    let (value, ts) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("no timestamp: {line}"));
    assert!(
        ts.bytes().all(|b| b.is_ascii_digit()),
        "timestamp {ts:?} is not whole seconds"
    );
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("value {v:?}")),
    };
    let mut pairs = parse_labels(labels);
    let le = pairs
        .iter()
        .position(|(k, _)| k == "le")
        .map(|i| pairs.remove(i).1);
    let labels = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",");
    Sample {
        name: name.to_string(),
        labels,
        le,
        value,
        ms: ts.parse::<i64>().unwrap() * 1000,
    }
}

/// The sample names a family of `kind` may have.
fn allowed(family: &str, kind: &str, name: &str) -> bool {
    match kind {
        "counter" => name == format!("{family}_total"),
        "gauge" => name == family,
        "info" => name == format!("{family}_info"),
        "histogram" => ["_bucket", "_count", "_sum"]
            .map(|s| format!("{family}{s}"))
            .contains(&name.to_string()),
        _ => false,
    }
}

/// Checks `text` against the OpenMetrics rules; returns every series' points by
/// `(name, labels)`.
fn conforming(text: &str) -> BTreeMap<(String, String), Vec<(i64, f64)>> {
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "# TYPE kubesim_run info");
    assert_eq!(
        &lines[lines.len() - 2..],
        ["# EOF", ""],
        "ends with # EOF and one newline"
    );
    let mut families = BTreeSet::new();
    let (mut family, mut kind) = (String::new(), String::new());
    let mut finished_metrics = BTreeSet::new();
    let mut metric = String::new();
    let mut series: BTreeMap<(String, String), Vec<(i64, f64)>> = BTreeMap::new();
    let mut buckets: Vec<f64> = Vec::new();
    for line in &lines[..lines.len() - 2] {
        assert!(
            !line.is_empty() && !line.ends_with(' ') && !line.contains('\r'),
            "{line:?}"
        );
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (f, k) = rest.split_once(' ').unwrap();
            assert!(
                families.insert(f.to_string()),
                "family {f} twice: not contiguous"
            );
            (family, kind) = (f.to_string(), k.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# UNIT ") {
            let (f, unit) = rest.split_once(' ').unwrap();
            assert!(f == family && f.ends_with(&format!("_{unit}")), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert_eq!(rest.split_once(' ').unwrap().0, family, "{line}");
            continue;
        }
        assert!(!line.starts_with('#'), "{line}");
        let s = parse_sample(line);
        assert!(
            allowed(&family, &kind, &s.name),
            "{} in family {family} ({kind})",
            s.name
        );
        // A metric (a label set of the family) is contiguous: once left, never back.
        let this_metric = format!("{family}{{{}}}", s.labels);
        if this_metric != metric {
            assert!(
                finished_metrics.insert(metric.clone()),
                "{this_metric} interleaved"
            );
            assert!(
                !finished_metrics.contains(&this_metric),
                "{this_metric} comes back"
            );
            metric = this_metric;
        }
        if kind == "histogram" {
            check_histogram_line(&s, &mut buckets);
        }
        let key = (
            s.name.clone() + s.le.as_deref().map_or("", |le| le),
            s.labels.clone(),
        );
        let points = series.entry(key).or_default();
        assert!(
            points.last().is_none_or(|&(t, _)| t < s.ms),
            "{line}: not after the last point"
        );
        points.push((s.ms, s.value));
    }
    series
}

/// Buckets cumulative and ending with `+Inf`, which `_count` equals.
fn check_histogram_line(s: &Sample, buckets: &mut Vec<f64>) {
    if s.name.ends_with("_bucket") {
        assert!(
            buckets.last().is_none_or(|&b| b <= s.value),
            "buckets not cumulative"
        );
        buckets.push(s.value);
    } else if s.name.ends_with("_count") {
        assert_eq!(
            buckets.last(),
            Some(&s.value),
            "_count is not the +Inf bucket"
        );
        buckets.clear();
    }
    if s.le.as_deref() == Some("+Inf") {
        assert!(!buckets.is_empty());
    }
}

/// Column `name` of a run directory's timeseries.csv, by Unix ms from `start_ms`.
fn column(dir: &Path, name: &str, start_ms: i64) -> BTreeMap<i64, f64> {
    let text = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|c| *c == name).unwrap();
    lines
        .map(|l| {
            let cells: Vec<f64> = l.split(',').map(|c| c.parse().unwrap()).collect();
            (start_ms + (cells[0] * 1000.0).round() as i64, cells[i])
        })
        .collect()
}

/// 2026-01-05T00:00:00Z, the default `spec.startTime`, in Unix ms.
const START_MS: i64 = 1_767_571_200_000;

#[test]
fn export_conforms_and_its_values_are_the_run_s() {
    let dir = scratch("openmetrics-llm");
    let (out, file) = (dir.join("run"), dir.join("llm.om"));
    let args = [
        "run",
        "scenarios/llm-inference",
        "--no-plots",
        "--no-trace",
        "--out",
    ];
    let done = kubesim(
        &[
            &args[..],
            &[
                out.to_str().unwrap(),
                "--openmetrics",
                file.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    let series = conforming(&std::fs::read_to_string(&file).unwrap());
    // Spec replicas at every instant are timeseries.csv's.
    let replicas = column(&out, "deployment.llama.replicas", START_MS);
    let key = |name: &str, labels: &str| (name.to_string(), labels.to_string());
    let spec = &series[&key(
        "kube_deployment_spec_replicas",
        r#"namespace="default",deployment="llama""#,
    )];
    assert_eq!(spec.len(), replicas.len());
    for (ms, v) in spec {
        assert_eq!(*v, replicas[ms], "at {ms}");
    }
    // The requests counted by the source sidecars, summed over codes, are the served and failed
    // requests so far.
    let (served, failed) = (
        column(&out, "service.llama.served", START_MS),
        column(&out, "service.llama.failed", START_MS),
    );
    let mut so_far = 0.0;
    let totals: BTreeMap<i64, f64> = served
        .iter()
        .map(|(ms, s)| {
            so_far += s + failed[ms];
            (*ms, so_far)
        })
        .collect();
    let mut counted: BTreeMap<i64, f64> = BTreeMap::new();
    for ((name, labels), points) in &series {
        if name == "istio_requests_total"
            && labels.contains(r#"reporter="source""#)
            && labels.contains(r#"destination_service_name="llama""#)
        {
            for (ms, v) in points {
                *counted.entry(*ms).or_default() += v;
            }
        }
    }
    assert_eq!(counted, totals);
    assert!(totals.values().last().unwrap() > &1000.0);
    // vLLM's waiting requests over the pods are the Deployment's.
    let waiting = column(&out, "deployment.llama.llm_waiting", START_MS);
    let mut summed: BTreeMap<i64, f64> = waiting.keys().map(|&ms| (ms, 0.0)).collect();
    for ((name, _), points) in &series {
        if name == "vllm:num_requests_waiting" {
            for (ms, v) in points {
                *summed.get_mut(ms).unwrap() += v;
            }
        }
    }
    assert_eq!(summed, waiting);
    assert!(
        series
            .keys()
            .any(|(n, _)| n == "vllm:time_to_first_token_seconds_bucket+Inf")
    );
    assert!(
        series
            .keys()
            .any(|(n, _)| n == "container_cpu_usage_seconds_total")
    );
}

#[test]
fn export_changes_nothing_of_the_run_and_is_the_same_every_time() {
    let dir = scratch("openmetrics-same");
    let run = |name: &str, export: bool| {
        let out = dir.join(name);
        let file = dir.join(format!("{name}.om"));
        let mut args = vec![
            "run",
            "scenarios/quickstart",
            "--no-plots",
            "--no-trace",
            "--out",
            out.to_str().unwrap(),
        ];
        let file_arg = file.to_str().unwrap().to_string();
        if export {
            args.extend(["--openmetrics", &file_arg, "--openmetrics-interval", "1m"]);
            let done = kubesim(&args);
            assert!(done.status.success(), "{}", stderr(&done));
        } else {
            assert!(kubesim(&args).status.success());
        }
        let read = |f: &str| std::fs::read(out.join(f)).unwrap();
        (
            read("report.json"),
            read("timeseries.csv"),
            std::fs::read(&file).ok(),
        )
    };
    let plain = run("plain", false);
    let first = run("first", true);
    let second = run("second", true);
    assert_eq!(
        (&plain.0, &plain.1),
        (&first.0, &first.1),
        "the export changed the run"
    );
    assert_eq!(first.2, second.2, "two runs exported different bytes");
    // Every 60 s of the 2 h run (481 rows at 15 s): 121 instants.
    let text = String::from_utf8(first.2.unwrap()).unwrap();
    let series = conforming(&text);
    let info = series
        .iter()
        .find(|((n, _), _)| n == "kubesim_run_info")
        .unwrap()
        .1;
    assert_eq!(info.len(), 121);
    assert!(info.iter().all(|(ms, _)| (ms - START_MS) % 60_000 == 0));
}

#[test]
fn export_refuses_what_it_must_not_write() {
    let dir = scratch("openmetrics-refuse");
    let out = dir.join("run");
    let foreign = dir.join("notes.om");
    std::fs::write(&foreign, "my notes\n").unwrap();
    let base = [
        "run",
        "scenarios/quickstart",
        "--no-plots",
        "--no-trace",
        "--out",
        out.to_str().unwrap(),
    ];
    let try_with = |extra: &[&str]| kubesim(&[&base[..], extra].concat());
    let refused = try_with(&["--openmetrics", foreign.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("not an OpenMetrics file kubesim wrote"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "my notes\n");
    assert!(
        !out.exists(),
        "nothing is written when the export is refused"
    );
    let inside = out.join("series.om");
    let refused = try_with(&["--openmetrics", inside.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("inside the run directory"),
        "{}",
        stderr(&refused)
    );
    let own = dir.join("own.om");
    let refused = try_with(&[
        "--openmetrics",
        own.to_str().unwrap(),
        "--openmetrics-interval",
        "20s",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("not a whole multiple of the scenario's sampleInterval (15s)"),
        "{}",
        stderr(&refused)
    );
    let refused = try_with(&["--openmetrics-interval", "1m"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an interval without --openmetrics"
    );
    assert!(!own.exists() && !out.exists());
    // Its own file, kubesim replaces.
    for _ in 0..2 {
        let done = try_with(&[
            "--openmetrics",
            own.to_str().unwrap(),
            "--openmetrics-interval",
            "30m",
        ]);
        assert!(done.status.success(), "{}", stderr(&done));
    }
    assert!(
        std::fs::read_to_string(&own)
            .unwrap()
            .starts_with("# TYPE kubesim_run info\n")
    );
}

#[test]
fn the_conformance_check_refuses_what_the_format_forbids() {
    let head = "# TYPE kubesim_run info\nkubesim_run_info 1 1\n";
    let good = format!(
        "{head}# TYPE g gauge\ng{{a=\"1\"}} 1 1\ng{{a=\"1\"}} 2 2\ng{{a=\"2\"}} 2 2\n# EOF\n"
    );
    assert_eq!(conforming(&good).len(), 3);
    let bad = [
        "# TYPE g gauge\ng{a=\"1\"} 1 1\ng{a=\"2\"} 1 1\ng{a=\"1\"} 2 2\n# EOF\n", // interleaved
        "# TYPE g gauge\ng{a=\"1\"} 2 2\ng{a=\"1\"} 1 1\n# EOF\n",                 // back in time
        "# TYPE c counter\nc 1 1\n# EOF\n",                                        // no _total
        "# TYPE g gauge\ng{a=\"1\", b=\"2\"} 1 1\n# EOF\n",                        // a space
        "# TYPE g gauge\ng 1 1.5\n# EOF\n", // not whole seconds
        "# TYPE g gauge\ng 1 1\n",          // no # EOF
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2 1\nh_bucket{le=\"+Inf\"} 1 1\nh_count 1 1\n# EOF\n",
        "# TYPE g gauge\ng 1 1\n# TYPE g gauge\n# EOF\n", // a family twice
    ];
    for text in bad {
        let text = format!("{head}{text}");
        let caught = std::panic::catch_unwind(|| conforming(&text));
        assert!(caught.is_err(), "passed:\n{text}");
    }
}
