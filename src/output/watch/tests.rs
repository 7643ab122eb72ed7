use super::*;
use crate::cluster::selector::Labels;

#[test]
fn status_tables_match_their_indexes() {
    for (i, s) in POD_STATUSES.iter().enumerate() {
        assert_eq!(pod_status_index(*s), i, "{s:?}");
    }
    for (i, s) in NODE_STATUSES.iter().enumerate() {
        assert_eq!(node_status_index(*s), i, "{s:?}");
    }
    // The script takes a new pod for Pending and a new node for Provisioning: index 0.
    assert_eq!(pod_status_index(PodStatus::Pending), 0);
    assert_eq!(node_status_index(NodeStatus::Provisioning), 0);
}

#[test]
fn the_script_cannot_close_its_element() {
    assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
    assert!(!SCRIPT.contains("console."), "the page must log nothing");
}

fn history() -> Vec<Line> {
    let workload = Line::Workload {
        name: "web".into(),
        namespace: "default".into(),
        workload_kind: "Deployment".into(),
        selector: "app=web".into(),
    };
    let hpa = Line::Hpa {
        name: "web-hpa".into(),
        namespace: "default".into(),
        reference: "Deployment/web".into(),
        min_replicas: 1,
        max_replicas: 4,
    };
    let template = Line::Template {
        id: 0,
        workload: "web".into(),
        namespace: "default".into(),
        labels: Labels::default(),
        containers: vec![],
        requests: BTreeMap::new(),
        node_name: None,
    };
    let node_added = Line::NodeAdded {
        t: 0.0,
        node: 7,
        name: "general-0".into(),
        pool: "general".into(),
        labels: Labels::default(),
        allocatable: BTreeMap::new(),
    };
    let node = Line::Node {
        t: 0.0,
        node: 7,
        status: NodeStatus::Ready,
        unschedulable: false,
        down: false,
        taints: vec![],
    };
    let created = Line::PodCreated {
        t: 1.5,
        pod: 3,
        name: "web-abc".into(),
        template: 0,
    };
    let running = Line::Pod {
        t: 2.0,
        pod: 3,
        status: PodStatus::Running,
        ready: true,
        node: Some(7),
        restarts: 0,
    };
    let counts = Line::WorkloadStatus {
        t: 2.0,
        workload: "web".into(),
        replicas: 1,
        updated: 1,
        ready: 1,
        available: 1,
    };
    let end = Line::End {
        t: 60.0,
        records: 4,
        full_at: None,
    };
    vec![
        workload, hpa, template, node_added, node, created, running, counts, end,
    ]
}

#[test]
fn history_lines_become_numbered_changes() {
    let mut g = Gathered::default();
    for line in &history() {
        g.take(line);
    }
    g.take_side(
        15.0,
        Side::Decision {
            hpa: "web-hpa".into(),
            current: 1,
            desired: 2,
        },
    );
    g.take_side(16.0, Side::Event("Node general-0: NodeFailed: <x>".into()));
    let page = g.finish(60.0);
    // Node id 7 is the page's node 0 and pod id 3 its pod 0; Ready is node status 1 and Running
    // pod status 3; the pod's template has no container listed, so it counts as one.
    assert_eq!(
        page.changes,
        [
            r#"[0.0,0,"general-0","general"]"#,
            "[0.0,1,0,1,0,0]",
            r#"[1.5,2,"web-abc",0,1]"#,
            "[2.0,3,0,3,1,0,0]",
            "[2.0,4,0,1,1]",
            "[15.0,5,0,1,2]",
            r#"[16.0,6,"Node general-0: NodeFailed: <x>"]"#,
        ]
    );
    assert_eq!(page.header.hpas, [("web-hpa".to_string(), 0)]);
    assert_eq!(page.header.until, None);
    let json = page.json();
    assert!(json.contains(r#""changes":[[0.0,0,"general-0""#), "{json}");
    assert!(
        json.contains(r"NodeFailed: \u003cx>"),
        "no `<` inside the script element"
    );
}

#[test]
fn a_full_page_holds_whole_instants_up_to_the_cut() {
    let mut changes = Changes::default();
    let record = "x".repeat(1000);
    let mut t = 0.0;
    // Two records per instant until one does not fit.
    while changes.push(t, &record) && changes.push(t, &record) {
        t += 1.0;
    }
    let cut = changes.cut.expect("the budget is reached");
    assert_eq!(cut, t);
    assert!(changes.records.iter().all(|(at, _)| *at < cut));
    assert_eq!(changes.records.len() % 2, 0, "no instant is held in part");
    let bytes: usize = changes.records.iter().map(|(_, r)| r.len() + 1).sum();
    assert_eq!(bytes, changes.bytes);
    assert!(bytes <= WATCH_BUDGET);
    assert!(
        !changes.push(t + 1.0, "later"),
        "nothing is taken after the cut"
    );
}

#[test]
fn a_cut_page_says_until_when_and_why() {
    let mut g = Gathered {
        full_at: Some(200.0),
        ..Default::default()
    };
    g.changes.cut = Some(100.0);
    let page = g.finish(300.0);
    assert_eq!(page.header.until, Some(100.0));
    assert!(
        page.header
            .until_why
            .unwrap()
            .contains("more changes than the page holds")
    );

    let mut g = Gathered {
        full_at: Some(200.0),
        ..Default::default()
    };
    g.changes.push(150.0, 1);
    g.changes.push(250.0, 2);
    let page = g.finish(300.0);
    assert_eq!(page.header.until, Some(200.0));
    assert!(
        page.header
            .until_why
            .as_ref()
            .unwrap()
            .contains("journal was full")
    );
    assert_eq!(
        page.changes,
        ["1"],
        "records after the journal stopped are not shown"
    );
    let html = render(&page);
    assert!(html.contains("holds the run up to 3m20s"), "{html}");
}

/// A run directory holding only `hpa_decisions.jsonl` with `lines`.
fn decisions_dir(name: &str, lines: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kubesim-watch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("hpa_decisions.jsonl"), text).unwrap();
    dir
}

fn decision(t: f64, hpa: &str, current: i32, desired: i32) -> String {
    format!(
        "{{\"time_seconds\":{t:?},\"hpa\":\"{hpa}\",\"current_replicas\":{current},\
         \"desired_replicas\":{desired},\"metrics\":[]}}"
    )
}

fn told(record: &Side) -> String {
    match record {
        Side::Decision {
            hpa,
            current,
            desired,
        } => format!("{hpa} {current}->{desired}"),
        Side::Event(text) => text.clone(),
    }
}

#[test]
fn side_records_merge_decisions_and_events_in_time_order_decisions_first() {
    let lines = [
        decision(15.0, "web", 2, 2),
        decision(30.0, "web", 2, 2), // the same pair: not a change
        decision(30.0, "api", 1, 3),
        decision(45.0, "web", 2, 4),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let dir = decisions_dir("merge", &lines);
    let event = ClusterEvent {
        t_seconds: 30.0,
        kind: crate::metrics::cluster_events::ObjectKind::Node,
        name: "node-1".into(),
        reason: crate::metrics::cluster_events::ClusterEventReason::NodeNotReady,
        message: "down".into(),
    };
    let mut side = SideRecords::open(&dir, &[], &[event]).unwrap();
    let mut seen = Vec::new();
    // Up to 30 s (exclusive) only the first decision; then everything.
    while let Some((at, record)) = side.next_before(30.0).unwrap() {
        seen.push(format!("{at} {}", told(&record)));
    }
    assert_eq!(seen, ["15 web 2->2"]);
    while let Some((at, record)) = side.next_before(f64::INFINITY).unwrap() {
        seen.push(format!("{at} {}", told(&record)));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        seen,
        [
            "15 web 2->2",
            "30 api 1->3",
            "30 Node node-1: NodeNotReady: down",
            "45 web 2->4"
        ]
    );
}

#[test]
fn decisions_past_what_is_asked_for_are_not_read() {
    // A damaged line after 60 s: asking for records before 60 s never reaches it, asking for
    // more does, and the error names the file's line.
    let first = decision(15.0, "web", 2, 3);
    let dir = decisions_dir("lazy", &[&first, "{\"time_seconds\": 90.0, \"hpa\""]);
    let mut side = SideRecords::open(&dir, &[], &[]).unwrap();
    assert!(side.next_before(60.0).unwrap().is_some());
    assert!(
        side.next_before(60.0)
            .is_err_and(|e| e.contains("hpa_decisions.jsonl:2"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
