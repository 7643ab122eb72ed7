//! What a run draws: the plots, report.html and the cluster events they mark; `kubesim plot`.

use std::fs;
use std::path::Path;

use crate::support::{kubesim, scratch};

fn run_into(name: &str, scenario: &str, extra: &[&str]) -> std::path::PathBuf {
    let dir = scratch(name).join("run");
    let mut args = vec!["run", scenario, "--out", dir.to_str().unwrap()];
    args.extend(extra);
    let out = kubesim(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn files(dir: &Path, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(extension))
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_draws_its_plots_and_a_self_contained_report() {
    let dir = run_into(
        "plots-quickstart",
        "scenarios/quickstart/scenario.yaml",
        &[],
    );
    let plots = files(&dir, ".svg");
    let expected = [
        "plot-availability.svg",
        "plot-cpu.svg",
        "plot-latency.svg",
        "plot-nodes-cost.svg",
        "plot-pending.svg",
        "plot-replicas.svg",
    ];
    assert_eq!(plots, expected);
    let latency = fs::read_to_string(dir.join("plot-latency.svg")).unwrap();
    // The scenario's SLO (service web: latency.p99 <= 250ms) is drawn as a line.
    assert!(
        latency.contains("SLO latency.p99 &lt;= 250ms")
            || latency.contains("SLO latency.p99 <= 250ms")
    );
    let page = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        page.matches("<svg").count(),
        expected.len(),
        "every plot inline"
    );
    // Two scripts, both inline: the slider's data and the slider (" src=" is refused below).
    assert_eq!(
        page.matches("<script").count(),
        2,
        "the watch section's scripts only"
    );
    assert!(page.contains("<script type=\"application/json\" id=\"watch-data\">"));
    for reference in ["<link", " src=", "url(", "@import"] {
        assert!(
            !page.contains(reference),
            "report.html refers out: {reference}"
        );
    }
    // The only URL is the SVG namespace, which is a name, not a request.
    let urls = page.matches("http").count();
    assert_eq!(urls, page.matches("http://www.w3.org/2000/svg").count());
    assert!(
        page.contains("service web: latency.p99 &lt;= 250ms"),
        "SLO table"
    );
    assert!(page.contains("scaled 3 → "), "the HPA narrative");
}

#[test]
fn plots_and_report_are_byte_identical_across_runs() {
    let a = run_into("plots-det-a", "scenarios/node-failure/scenario.yaml", &[]);
    let b = run_into("plots-det-b", "scenarios/node-failure/scenario.yaml", &[]);
    let mut drawn = files(&a, ".svg");
    drawn.push("report.html".into());
    drawn.push("cluster_events.jsonl".into());
    for name in drawn {
        assert_eq!(
            fs::read(a.join(&name)).unwrap(),
            fs::read(b.join(&name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn node_failures_are_logged_and_marked_on_the_time_axes() {
    let dir = run_into(
        "plots-failures",
        "scenarios/node-failure/scenario.yaml",
        &[],
    );
    let events = fs::read_to_string(dir.join("cluster_events.jsonl")).unwrap();
    let first = events.lines().next().unwrap();
    // The scenario fails general-1 at 1h (spec.events[0]).
    assert!(
        first.contains("\"tSeconds\":3600.0") && first.contains("\"reason\":\"NodeFailed\""),
        "{first}"
    );
    for plot in files(&dir, ".svg") {
        let svg = fs::read_to_string(dir.join(&plot)).unwrap();
        assert!(svg.contains("node failure"), "{plot} marks the failures");
    }
}

#[test]
fn no_plots_writes_only_the_data() {
    let dir = run_into(
        "plots-none",
        "scenarios/quickstart/scenario.yaml",
        &["--no-plots"],
    );
    assert!(files(&dir, ".svg").is_empty());
    assert!(!dir.join("report.html").exists());
}

#[test]
fn kubesim_plot_redraws_a_run_as_png() {
    let dir = run_into(
        "plots-png",
        "scenarios/quickstart/scenario.yaml",
        &["--no-plots"],
    );
    for _ in 0..2 {
        let out = kubesim(&["plot", dir.to_str().unwrap(), "--format", "png"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pngs = files(&dir, ".png");
    assert_eq!(pngs.len(), 6, "{pngs:?}");
    for png in pngs {
        let bytes = fs::read(dir.join(&png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{png}");
    }
    // Nothing is left beside the run.
    let parent = dir.parent().unwrap();
    assert_eq!(fs::read_dir(parent).unwrap().count(), 1);
    // The run directory is still one kubesim may replace.
    let again = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        files(&dir, ".png").is_empty(),
        "the earlier run's PNGs went with it"
    );
}

#[test]
fn kubesim_plot_refuses_a_directory_kubesim_did_not_write() {
    let dir = scratch("plots-foreign");
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = kubesim(&["plot", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a run directory") && stderr.contains("notes.txt"),
        "{stderr}"
    );
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "nothing written");
}

#[test]
fn check_against_a_baseline_passes_an_identical_run_and_catches_a_regression() {
    let base = run_into(
        "baseline-quickstart",
        "scenarios/quickstart/scenario.yaml",
        &["--no-plots"],
    );
    let quickstart = "scenarios/quickstart/scenario.yaml";
    let same = kubesim(&["check", quickstart, "--baseline", base.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("quickstart vs baseline") && !stdout.contains("REGRESSED"),
        "{stdout}"
    );
    // At most 4 replicas instead of 14 at the peak: the p99 grows far beyond 10 %.
    let junit = scratch("baseline-junit").join("junit.xml");
    let worse = kubesim(&[
        "check",
        quickstart,
        "--set",
        "hpa/web:spec.maxReplicas=4",
        "--baseline",
        base.join("report.json").to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&worse.stdout);
    assert_eq!(worse.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("REGRESSED"), "{stdout}");
    let xml = fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"baseline service/web latency.p99\"")
            && xml.contains("BaselineRegression"),
        "{xml}"
    );
    // A looser tolerance lets the same change through for that metric only.
    let loose = kubesim(&[
        "check",
        quickstart,
        "--set",
        "hpa/web:spec.maxReplicas=4",
        "--baseline",
        base.to_str().unwrap(),
        "--tolerance",
        "latency=100000%",
        "--tolerance",
        "availability=100%",
        "--tolerance",
        "cost=100%",
    ]);
    let stdout = String::from_utf8_lossy(&loose.stdout);
    assert!(!stdout.contains("REGRESSED"), "{stdout}");
}

#[test]
fn baseline_usage_errors_exit_2() {
    let base = run_into(
        "baseline-usage",
        "scenarios/quickstart/scenario.yaml",
        &["--no-plots"],
    );
    let quickstart = "scenarios/quickstart/scenario.yaml";
    let cases: [&[&str]; 3] = [
        &[
            "--baseline",
            base.to_str().unwrap(),
            "--tolerance",
            "latency.p98=5%",
        ],
        &["--baseline", "/nonexistent/baseline"],
        &[
            "--baseline",
            base.to_str().unwrap(),
            "scenarios/simpy-peer/scenario.yaml",
        ],
    ];
    for extra in cases {
        let mut args = vec!["check", quickstart];
        args.extend(extra);
        let out = kubesim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("--baseline") || stderr.contains("--tolerance"),
            "{stderr}"
        );
    }
}

#[test]
fn a_directory_of_runs_is_a_baseline_per_scenario() {
    let dir = scratch("baseline-dir");
    let out = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--no-plots",
        "--out",
        dir.join("quickstart").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let check = |allow: bool| {
        let mut args = vec![
            "check",
            "scenarios/quickstart/scenario.yaml",
            "scenarios/simpy-peer/scenario.yaml",
            "--baseline",
            dir.to_str().unwrap(),
        ];
        if allow {
            args.push("--allow-missing-baseline");
        }
        kubesim(&args)
    };
    // simpy-peer has no run there: an error, unless a missing one is allowed.
    let out = check(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("simpy-peer/report.json: No such file"),
        "{stderr}"
    );
    let out = check(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no baseline for simpy-peer"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("quickstart vs baseline"));
}
