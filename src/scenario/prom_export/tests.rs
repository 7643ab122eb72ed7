//! The shapes Prometheus 2.42 and promtool write (docs/upstream/prometheus.md §1), and the bad
//! exports a user sends.

use super::*;

/// The HTTP API's answer (numbers as the server writes them: `.500` fractions, `1e-07`).
const API: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
 {"metric":{"__name__":"istio_requests_total","destination_service_name":"web"},
  "values":[[1700000000,"10"],[1700000060,"70"],[1700000120.500,"1e-07"]]}]}}"#;

/// promtool query range -o json: the bare array, shortest numbers.
const PROMTOOL: &str =
    r#"[{"metric":{"pod":"web-1"},"values":[[1700000000,"0.0000001"],[1700000000.5,"2"]]}]"#;

#[test]
fn reads_both_json_shapes() {
    let api = parse_json("api.json", API).unwrap();
    assert_eq!(api.series.len(), 1);
    assert_eq!(
        api.series[0].points,
        [
            (1_700_000_000_000, 10.0),
            (1_700_000_060_000, 70.0),
            (1_700_000_120_500, 1e-7)
        ]
    );
    assert_eq!(
        api.series[0].display(),
        r#"istio_requests_total{destination_service_name="web"}"#
    );
    assert!(api.notes.is_empty());
    let promtool = parse_json("p.json", PROMTOOL).unwrap();
    assert_eq!(
        promtool.series[0].points,
        [(1_700_000_000_000, 1e-7), (1_700_000_000_500, 2.0)]
    );
}

#[test]
fn an_error_answer_or_an_instant_query_is_refused_with_the_file() {
    let error = r#"{"status":"error","errorType":"bad_data","error":"1:3: parse error: unclosed left parenthesis"}"#;
    let e = parse_json("q.json", error).unwrap_err();
    assert!(
        e.starts_with("q.json: Prometheus answered with an error (bad_data: 1:3: parse error"),
        "{e}"
    );
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}"#;
    let e = parse_json("v.json", vector).unwrap_err();
    assert!(e.contains("data.resultType is \"vector\""), "{e}");
    let e = parse_json("x.json", r#"{"a":1}"#).unwrap_err();
    assert!(e.contains("neither the Prometheus HTTP API's JSON"), "{e}");
    let e = parse_json("e.json", "[]").unwrap_err();
    assert!(e.contains("did the query match nothing"), "{e}");
}

#[test]
fn unusable_points_are_dropped_and_said() {
    let text = r#"[{"metric":{"__name__":"c"},"values":[[3,"NaN"],[2,"5"],[1,"4"],[4,""],[5,"+Inf"]]},
                   {"metric":{"__name__":"d"},"values":[[1,"1"],[1,"2"]]},
                   {"metric":{"__name__":"e"},"values":[[1,"NaN"]]}]"#;
    let export = parse_json("f.json", text).unwrap();
    assert_eq!(export.series.len(), 1);
    assert_eq!(export.series[0].points, [(1000, 4.0), (2000, 5.0)]);
    assert_eq!(
        export.notes,
        [
            "f.json: c{}: 3 NaN, infinite or empty values dropped",
            "f.json: c{}: timestamps out of order; sorted",
            "f.json: d{}: two different values at one timestamp; the series is left out",
            "f.json: e{}: 1 NaN, infinite or empty values dropped",
            "f.json: e{}: no usable point; left out",
        ]
    );
    let e = parse_json("g.json", r#"[{"metric":{},"values":[[1,"abc"]]}]"#).unwrap_err();
    assert_eq!(
        e,
        r#"g.json: result[0].values[0]: the value "abc" is not a number"#
    );
}

#[test]
fn counter_resets_are_handled_as_rate_does() {
    // 0 → 60 → 30 (a reset: the increase is 30, not −30) → 90, a minute apart.
    let s = Series {
        labels: BTreeMap::new(),
        points: vec![(0, 0.0), (60_000, 60.0), (120_000, 30.0), (180_000, 90.0)],
    };
    let (rates, resets) = s.rates();
    assert_eq!(rates, [(60_000, 1.0), (120_000, 0.5), (180_000, 1.0)]);
    assert_eq!(resets, 1);
    assert_eq!(s.step_ms(), Some(60_000));
}

#[test]
fn series_of_different_steps_are_named() {
    let minute = Series {
        labels: BTreeMap::from([("pod".into(), "a".into())]),
        points: vec![(0, 1.0), (60_000, 1.0), (120_000, 1.0)],
    };
    let half = Series {
        labels: BTreeMap::from([("pod".into(), "b".into())]),
        points: vec![(0, 1.0), (30_000, 1.0)],
    };
    assert_eq!(common_step(&[&minute, &minute]), Ok(Some(60_000)));
    let e = common_step(&[&minute, &half]).unwrap_err();
    assert_eq!(
        e,
        r#"{pod="a"} has a step of 60 s and {pod="b"} one of 30 s: export every series with the same step"#
    );
}

#[test]
fn wide_csv_with_unix_rfc3339_and_go_times() {
    let text = "Time,web,api\n1700000000,1.5,\n1700000060000,2,3\n2023-11-14T22:15:20Z,4,5\n";
    let export = parse_csv("g.csv", text, None).unwrap();
    assert_eq!(export.series[0].display(), r#"{column="web"}"#);
    assert_eq!(
        export.series[0].points,
        [
            (1_700_000_000_000, 1.5),
            (1_700_000_060_000, 2.0),
            (1_700_000_120_000, 4.0)
        ]
    );
    assert_eq!(
        export.notes,
        ["g.csv: {column=\"api\"}: 1 NaN, infinite or empty values dropped"]
    );
    let nezha = "Time,TimeStamp,CpuUsage(m)\n2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305041286,1661140279,12\n";
    let export = parse_csv("n.csv", nezha, Some("Time")).unwrap();
    assert_eq!(export.series[1].points[0], (1_661_140_279_799, 12.0));
    let e = parse_csv("n.csv", nezha, Some("When")).unwrap_err();
    assert_eq!(
        e,
        "n.csv: no column \"When\" (the columns are Time, TimeStamp, CpuUsage(m))"
    );
    let e = parse_csv("b.csv", "t,x\nyesterday,1\n", None).unwrap_err();
    assert!(
        e.starts_with("b.csv:2: \"yesterday\" is not an instant"),
        "{e}"
    );
}
