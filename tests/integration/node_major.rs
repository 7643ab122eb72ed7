//! The node-major data plane (`kubesim run --threads N`, docs/node-major.md): the same bytes
//! for any number of threads and any dealing of nodes to threads; the exact plane where a
//! scenario's nodes interact on the request path; and how far it is from the exact plane.

use kubesim::engine::{self, DataPlane, Dealing, PlaneNote, Records, RunOptions, RunOutput};

use crate::scenarios::output_bytes;
use crate::support::{kubesim, load, root, stderr};

fn run_on(path: &str, overrides: &[&str], plane: DataPlane, dealing: Dealing) -> RunOutput {
    let scenario = load(&root().join(path), None, overrides);
    let options = RunOptions {
        plane,
        dealing,
        ..RunOptions::default()
    };
    engine::run_with_options(&scenario, &mut |_| {}, Records::Keep, options).expect("runs")
}

fn lanes(threads: usize) -> DataPlane {
    DataPlane::NodeMajor { threads }
}

#[test]
fn node_major_outputs_are_the_same_for_any_threads_and_any_dealing() {
    // Node failures and their replacements (touches of failed nodes), rolling updates and
    // scale-downs (draining pods: eager lanes), CPU limits (CFS quotas in the lanes), Jobs
    // beside Services, Karpenter's consolidation.
    for (path, overrides) in [
        ("scenarios/quickstart/scenario.yaml", &[][..]),
        ("scenarios/node-failure/scenario.yaml", &[][..]),
        ("scenarios/rolling-update/scenario.yaml", &[][..]),
        ("scenarios/cpu-limits/scenario.yaml", &[][..]),
        (
            "scenarios/batch-and-services/scenario.yaml",
            &["duration=6h"][..],
        ),
        (
            "scenarios/karpenter-vs-ca/scenario.yaml",
            &["duration=1h"][..],
        ),
    ] {
        let one = run_on(path, overrides, lanes(1), Dealing::InTurn);
        assert_eq!(one.plane, PlaneNote::NodeMajor(1), "{path}");
        assert!(one.report.totals.requests > 0, "{path}: no requests");
        let expected = output_bytes(&one);
        for (threads, dealing) in [
            (2, Dealing::InTurn),
            (3, Dealing::InTurn),
            (8, Dealing::InTurn),
            (3, Dealing::Shuffled(7)),
            (2, Dealing::Shuffled(0x5eed)),
        ] {
            let other = run_on(path, overrides, lanes(threads), dealing);
            assert_eq!(other.plane, PlaneNote::NodeMajor(threads), "{path}");
            assert!(
                output_bytes(&other) == expected,
                "{path}: {threads} thread(s), {dealing:?} changed the output"
            );
            assert_eq!(
                other.events, one.events,
                "{path}: events counted differently"
            );
            // What the parallel model counts is the same work, whatever the threads.
            let counts = |o: &RunOutput| {
                let t = o.lane_timing.as_ref().expect("node-major runs are timed");
                (t.syncs, t.lane_events, t.lane_events_at_syncs)
            };
            assert_eq!(counts(&other), counts(&one), "{path}: lane work differs");
            let busy = &other.lane_timing.as_ref().unwrap().shard_busy_seconds;
            assert_eq!(busy.len(), threads, "{path}: a busy time per shard");
        }
    }
}

#[test]
fn node_major_differs_from_the_exact_plane_only_in_same_instant_ties() {
    // Measured when the plane was built: these two scenarios come out byte-identical; where
    // ties at one microsecond reorder a completion and a control-plane event (a sample, a
    // drain), only instant counts move, and request totals stay equal.
    for path in [
        "scenarios/quickstart/scenario.yaml",
        "scenarios/node-failure/scenario.yaml",
    ] {
        let exact = run_on(path, &[], DataPlane::Exact, Dealing::InTurn);
        let node_major = run_on(path, &[], lanes(2), Dealing::InTurn);
        assert_eq!(exact.plane, PlaneNote::ExactAsked);
        assert!(output_bytes(&exact) == output_bytes(&node_major), "{path}");
    }
    let path = "scenarios/rolling-update/scenario.yaml";
    let exact = run_on(path, &[], DataPlane::Exact, Dealing::InTurn);
    let node_major = run_on(path, &[], lanes(2), Dealing::InTurn);
    let (e, l) = (&exact.report.totals, &node_major.report.totals);
    assert_eq!((e.requests, e.failed), (l.requests, l.failed), "{path}");
    let p99 = |o: &RunOutput| o.report.services[0].latency_ms.p99;
    assert_eq!(p99(&exact), p99(&node_major), "{path}");
}

#[test]
fn scenarios_whose_nodes_interact_run_on_the_exact_plane() {
    // A call graph couples the nodes of its Services: `--threads` is refused with its reason,
    // and the run is the exact plane's, byte for byte.
    let path = "scenarios/online-boutique/scenario.yaml";
    let exact = run_on(path, &["duration=10m"], DataPlane::Exact, Dealing::InTurn);
    let asked = run_on(path, &["duration=10m"], lanes(2), Dealing::InTurn);
    match asked.plane {
        PlaneNote::Exact(why) => assert!(why.contains("call graphs"), "{why}"),
        other => panic!("expected the exact plane, got {other:?}"),
    }
    assert!(output_bytes(&exact) == output_bytes(&asked));
}

#[test]
fn the_cli_says_which_plane_ran() {
    let dir = crate::support::scratch("node-major-cli");
    let out = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let lanes = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--no-plots",
        "--threads",
        "2",
        "--out",
        &out("lanes"),
    ]);
    assert_eq!(lanes.status.code(), Some(0), "{}", stderr(&lanes));
    assert!(stderr(&lanes).contains("node-major data plane on 2 thread(s)"));
    // run.json says where the all-lanes advances spent their time (the parallel model's input).
    let info = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(name).join("run.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let timing = &info("lanes")["lanes"];
    assert_eq!(timing["threads"], 2, "{timing}");
    assert!(timing["syncs"].as_u64().unwrap() > 0, "{timing}");
    assert_eq!(timing["shard_busy_seconds"].as_array().unwrap().len(), 2);
    let events = timing["lane_events"].as_u64().unwrap();
    assert!(events > 0 && timing["lane_events_at_syncs"].as_u64().unwrap() <= events);
    let exact = kubesim(&[
        "run",
        "scenarios/ai-agent/scenario.yaml",
        "--no-plots",
        "--threads",
        "2",
        "--out",
        &out("exact"),
    ]);
    assert_eq!(exact.status.code(), Some(0), "{}", stderr(&exact));
    assert!(
        info("exact").get("lanes").is_none(),
        "the exact plane has no lanes"
    );
    assert!(
        stderr(&exact).contains("--threads ignored"),
        "{}",
        stderr(&exact)
    );
    assert!(
        info("exact")["data_plane"]
            .as_str()
            .unwrap()
            .starts_with("exact: the scenario has call graphs"),
        "{}",
        info("exact")
    );
    let zero = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--threads",
        "0",
    ]);
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
}

#[test]
fn runs_are_node_major_by_default_and_exact_when_asked() {
    let dir = crate::support::scratch("node-major-default");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.join(name).to_str().unwrap().to_owned();
        let mut args = vec!["run", "scenarios/quickstart/scenario.yaml", "--no-plots"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", &out]);
        let done = kubesim(&args);
        assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
        // Only a run that asked for threads is told which plane ran.
        assert!(!stderr(&done).contains("data plane"), "{}", stderr(&done));
        let text = std::fs::read_to_string(dir.join(name).join("run.json")).unwrap();
        let info: serde_json::Value = serde_json::from_str(&text).unwrap();
        info["data_plane"].as_str().unwrap().to_owned()
    };
    assert_eq!(run("default", &[]), "node-major on 1 thread(s)");
    assert_eq!(run("exact", &["--exact-plane"]), "exact, as asked");
    let both = kubesim(&[
        "run",
        "scenarios/quickstart/scenario.yaml",
        "--exact-plane",
        "--threads",
        "2",
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}
