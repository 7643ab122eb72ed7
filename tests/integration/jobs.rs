//! Jobs (issue 20, part 2): pods that run to completion, the pod failure backoff, the backoff
//! limit, the active deadline, the TTL after finishing, Indexed completion and work queues —
//! each checked against the timeline the Job controller gives.

use kubesim::controllers::PodEventReason;
use kubesim::engine::RunOutput;
use kubesim::metrics::report::JobReport;

use crate::support::run_text;

/// One 8-core node, and Job `report` with `spec` (YAML lines indented for `spec`) whose pods
/// start at once and run for `run` with a failure chance `fail`, over `minutes`.
pub(crate) fn run_job(test: &str, spec: &str, run: &str, fail: f64, minutes: u32) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {test}}}
spec:
  duration: {minutes}m
  seed: 11
  startWarm: false
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "8", memory: 32Gi}}}}
  workloads:
    - {{job: report, startupTime: 0s, runTime: {run}, failureProbability: {fail}}}
---
apiVersion: batch/v1
kind: Job
metadata: {{name: report}}
spec:
{spec}  template:
    spec:
      restartPolicy: Never
      containers:
        - {{name: main, image: busybox, resources: {{requests: {{cpu: "1", memory: 1Gi}}}}}}
"#
    );
    run_text(test, &text)
}

/// When each pod of the run was created, in seconds.
fn created(out: &RunOutput) -> Vec<f64> {
    let events = out.pod_events.iter();
    (events.filter(|e| e.reason == PodEventReason::Created))
        .map(|e| e.t_seconds)
        .collect()
}

fn job(out: &RunOutput) -> &JobReport {
    let jobs = &out.report.deployments[0].jobs;
    assert_eq!(jobs.len(), 1, "a Job has one report");
    &jobs[0]
}

/// `(time, reason)` of the Job's cluster events.
fn job_events(out: &RunOutput) -> Vec<(f64, String)> {
    out.cluster_events
        .iter()
        .map(|e| (e.t_seconds, format!("{:?}", e.reason)))
        .collect()
}

#[test]
fn failed_pods_are_replaced_after_a_doubling_backoff_until_the_limit() {
    // Every run fails after 60 s. backoffLimit 3: pod 1 fails at 60 → 1 failure, 10 s backoff
    // → pod 2 at 70, fails at 130 → 20 s → pod 3 at 150, fails at 210 → 40 s → pod 4 at 250,
    // fails at 310: 4 failures > 3 → BackoffLimitExceeded at 310, and no fifth pod.
    let out = run_job("job-backoff", "  backoffLimit: 3\n", "60s", 1.0, 20);
    assert_eq!(created(&out), vec![0.0, 70.0, 150.0, 250.0]);
    assert_eq!(
        job_events(&out),
        vec![(310.0, "BackoffLimitExceeded".to_string())]
    );
    let j = job(&out);
    assert_eq!(
        (j.status, j.reason),
        ("Failed", Some("BackoffLimitExceeded"))
    );
    assert_eq!((j.succeeded, j.failed), (0, 4));
    assert_eq!(j.duration_seconds, Some(310.0));
}

#[test]
fn completions_run_parallelism_pods_at_a_time() {
    // completions 5, parallelism 2, 100 s each: pods at 0, 0, 100, 100, 200; done at 300.
    let spec = "  completions: 5\n  parallelism: 2\n";
    let out = run_job("job-completions", spec, "100s", 0.0, 20);
    assert_eq!(created(&out), vec![0.0, 0.0, 100.0, 100.0, 200.0]);
    let j = job(&out);
    assert_eq!((j.status, j.succeeded, j.failed), ("Complete", 5, 0));
    assert_eq!(j.finished_seconds, Some(300.0));
    // The node is free again afterwards: only the running pods held it (5 × 100 s of 1 cpu).
    let pod_hours = out.report.deployments[0].replica_hours;
    assert!((pod_hours - 500.0 / 3600.0).abs() < 1e-3, "{pod_hours}");
}

#[test]
fn an_active_deadline_fails_the_job_and_deletes_its_pods() {
    // Runs of 10 min against activeDeadlineSeconds 300: the Job fails at 300 s and its two
    // running pods are deleted then.
    let spec = "  completions: 4\n  parallelism: 2\n  activeDeadlineSeconds: 300\n";
    let out = run_job("job-deadline", spec, "10m", 0.0, 20);
    assert_eq!(
        job_events(&out),
        vec![(300.0, "DeadlineExceeded".to_string())]
    );
    let killed: Vec<f64> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Killing)
        .map(|e| e.t_seconds)
        .collect();
    assert_eq!(killed, vec![300.0, 300.0]);
    let j = job(&out);
    assert_eq!((j.status, j.reason), ("Failed", Some("DeadlineExceeded")));
    assert_eq!(out.report.deployments[0].pods_created, 2);
}

#[test]
fn a_finished_job_is_deleted_after_its_ttl() {
    // One 2-minute pod, ttlSecondsAfterFinished 600: complete at 120 s, deleted at 720 s.
    let out = run_job("job-ttl", "  ttlSecondsAfterFinished: 600\n", "2m", 0.0, 20);
    assert_eq!(
        job_events(&out),
        vec![
            (120.0, "JobCompleted".to_string()),
            (720.0, "JobDeleted".to_string())
        ]
    );
    assert!(job(&out).deleted);
}

#[test]
fn indexed_jobs_name_each_index_and_a_work_queue_ends_with_its_pods() {
    // Indexed, completions 3, parallelism 3: one pod per index, `report-<index>-<suffix>`.
    let spec = "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n";
    let out = run_job("job-indexed", spec, "30s", 0.0, 5);
    let mut names: Vec<String> = (out.pod_events.iter())
        .filter(|e| e.reason == PodEventReason::Created)
        .map(|e| e.pod.rsplit_once('-').unwrap().0.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["report-0", "report-1", "report-2"]);
    assert_eq!(job(&out).status, "Complete");
    // A work queue (parallelism 3, no completions): three pods, complete when all three are
    // done, with three successes.
    let out = run_job("job-queue", "  parallelism: 3\n", "30s", 0.0, 5);
    assert_eq!(created(&out), vec![0.0, 0.0, 0.0]);
    let j = job(&out);
    assert_eq!(
        (j.status, j.completions, j.succeeded),
        ("Complete", None, 3)
    );
    assert_eq!(j.finished_seconds, Some(30.0));
}

/// CronJob `nightly` with `spec` (YAML lines indented for `spec`, the schedule among them) whose
/// Job runs one pod for `run`; from `start` (`spec.startTime`) for `minutes`.
pub(crate) fn run_cron(test: &str, spec: &str, run: &str, start: &str, minutes: u32) -> RunOutput {
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {test}}}
spec:
  duration: {minutes}m
  seed: 5
  startTime: "{start}"
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "8", memory: 32Gi}}}}
  workloads:
    - {{job: nightly, startupTime: 0s, runTime: {run}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly}}
spec:
{spec}  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - {{name: main, image: busybox, resources: {{requests: {{cpu: "1", memory: 1Gi}}}}}}
"#
    );
    run_text(test, &text)
}

pub(crate) const MONDAY: &str = "2026-01-05T00:00:00Z";

/// `(time, reason)` of the CronJob's own events (SuccessfulCreate, JobAlreadyActive, …).
fn cron_events(out: &RunOutput) -> Vec<(f64, String)> {
    (out.cluster_events.iter())
        .filter(|e| e.name == "nightly")
        .map(|e| (e.t_seconds, format!("{:?}", e.reason)))
        .collect()
}

/// When each Job started and the schedule time it was for, in seconds.
fn runs(out: &RunOutput) -> Vec<(f64, f64)> {
    (out.report.deployments[0].jobs.iter())
        .map(|j| (j.started_seconds.unwrap(), j.scheduled_seconds.unwrap()))
        .collect()
}

#[test]
fn allow_starts_a_job_at_every_schedule_time_even_while_one_runs() {
    // Every 10 minutes, runs of 15 minutes, for 40 minutes: Jobs at 600, 1200, 1800 and 2400,
    // overlapping; each named after its schedule time in minutes since the epoch.
    let out = run_cron(
        "cron-allow",
        "  schedule: \"*/10 * * * *\"\n",
        "15m",
        MONDAY,
        40,
    );
    assert_eq!(
        runs(&out),
        vec![
            (600.0, 600.0),
            (1200.0, 1200.0),
            (1800.0, 1800.0),
            (2400.0, 2400.0)
        ]
    );
    let first = &out.report.deployments[0].jobs[0];
    assert_eq!(
        first.name,
        format!("nightly-{}", (1_767_571_200 + 600) / 60)
    );
    assert_eq!(
        (first.status, first.finished_seconds),
        ("Complete", Some(1500.0))
    );
}

#[test]
fn forbid_skips_a_run_while_one_is_active_and_starts_it_late_within_the_deadline() {
    // Every 10 minutes, runs of 15: the Job for 600 runs to 1500; at 1200 one is active, so
    // the run is skipped (JobAlreadyActive) — and started late at 1500, when the first Job
    // ends, for the schedule time 1200 (no startingDeadlineSeconds).
    let spec = "  schedule: \"*/10 * * * *\"\n  concurrencyPolicy: Forbid\n";
    let out = run_cron("cron-forbid", spec, "15m", MONDAY, 30);
    assert_eq!(runs(&out), vec![(600.0, 600.0), (1500.0, 1200.0)]);
    let events = cron_events(&out);
    assert!(
        events.contains(&(1200.0, "JobAlreadyActive".to_string())),
        "{events:?}"
    );
    // With startingDeadlineSeconds 200 the run for 1200 is missed (1200 + 200 < 1500): the
    // next Job is the one for 1800, at 1800.
    let spec = "  schedule: \"*/10 * * * *\"\n  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 200\n";
    let out = run_cron("cron-forbid-deadline", spec, "15m", MONDAY, 31);
    assert_eq!(runs(&out), vec![(600.0, 600.0), (1800.0, 1800.0)]);
}

#[test]
fn replace_deletes_the_active_job_before_starting_the_next() {
    // Runs of 15 minutes every 10: at 1200 the Job for 600 is deleted (its pod killed) and
    // the one for 1200 starts.
    let spec = "  schedule: \"*/10 * * * *\"\n  concurrencyPolicy: Replace\n";
    let out = run_cron("cron-replace", spec, "15m", MONDAY, 21);
    assert_eq!(runs(&out), vec![(600.0, 600.0), (1200.0, 1200.0)]);
    let events = cron_events(&out);
    assert_eq!(
        events,
        vec![
            (600.0, "SuccessfulCreate".to_string()),
            (1200.0, "SuccessfulDelete".to_string()),
            (1200.0, "SuccessfulCreate".to_string()),
        ]
    );
    let first = &out.report.deployments[0].jobs[0];
    assert!(first.deleted && first.status == "Running", "{first:?}");
}

#[test]
fn finished_jobs_beyond_the_history_limit_are_deleted_oldest_first() {
    // One-minute runs every 10 minutes for 45 minutes, successfulJobsHistoryLimit 2: Jobs at
    // 600, 1200, 1800, 2400 finish a minute later; when the third has finished (1860) the
    // first is deleted, when the fourth has (2460) the second.
    let spec = "  schedule: \"*/10 * * * *\"\n  successfulJobsHistoryLimit: 2\n";
    let out = run_cron("cron-history", spec, "1m", MONDAY, 45);
    let deletes: Vec<f64> = (cron_events(&out).into_iter())
        .filter(|(_, r)| r == "SuccessfulDelete")
        .map(|(t, _)| t)
        .collect();
    assert_eq!(deletes, vec![1860.0, 2460.0]);
    let deleted: Vec<bool> = out.report.deployments[0]
        .jobs
        .iter()
        .map(|j| j.deleted)
        .collect();
    assert_eq!(deleted, vec![true, true, false, false]);
}

#[test]
fn schedules_are_read_in_their_time_zone_from_the_start_time() {
    // 02:00 in Berlin is 01:00 UTC in winter: from Monday 00:00 UTC the first run is at 3600 s;
    // in UTC it would be at 7200 s.
    let spec = "  schedule: \"0 2 * * *\"\n  timeZone: Europe/Berlin\n";
    let out = run_cron("cron-berlin", spec, "1m", MONDAY, 150);
    assert_eq!(runs(&out), vec![(3600.0, 3600.0)]);
    // Weekdays follow the start time: @weekly (Sunday 00:00) from a Monday fires 6 days later.
    let out = run_cron(
        "cron-saturday",
        "  schedule: \"@weekly\"\n",
        "1m",
        MONDAY,
        7 * 24 * 60,
    );
    assert_eq!(runs(&out), vec![(6.0 * 86_400.0, 6.0 * 86_400.0)]);
}

/// Mean latency (ms) of `web` (1 cpu request, no limit, 100 ms of CPU per request at 8 req/s)
/// on one 2-core node, beside a Job pod of 1 cpu request and no limit when `with_job`.
fn web_beside_a_job(test: &str, with_job: bool) -> f64 {
    let job = if with_job {
        r#"---
apiVersion: batch/v1
kind: Job
metadata: {name: crunch}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, resources: {requests: {cpu: "1", memory: 1Gi}}}]
"#
    } else {
        ""
    };
    let job_workload = if with_job {
        "    - {job: crunch, startupTime: 0s, runTime: 1h}\n"
    } else {
        ""
    };
    let text = format!(
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: {test}}}
spec:
  duration: 20m
  seed: 3
  cluster:
    nodePools:
      - {{name: pool, count: 1, allocatable: {{cpu: "2", memory: 8Gi}}}}
  workloads:
    - {{deployment: web, startupTime: 0s, cpuPerRequest: 100ms, concurrency: 64}}
{job_workload}  traffic:
    - {{service: web, arrivals: {{constant: {{rate: 8}}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, resources: {{requests: {{cpu: "1", memory: 1Gi}}}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}}}
{job}"#
    );
    run_text(test, &text).report.services[0].latency_ms.mean
}

#[test]
fn a_running_job_pod_takes_its_share_of_the_node_cpu_from_serving_pods() {
    // Alone, web may use both cores: requests rarely wait for CPU (0.8 cores of work on 2).
    // Beside a CPU-bound Job pod of equal weight (both request 1 cpu), web gets one core
    // whenever it wants more: a processor-shared core at load 0.8, whose mean response is
    // 100 ms / (1 − 0.8) = 500 ms (measured 477 ms; alone 119 ms).
    let alone = web_beside_a_job("job-cpu-alone", false);
    let shared = web_beside_a_job("job-cpu-shared", true);
    assert!(alone < 130.0, "alone: {alone} ms");
    assert!(
        shared > 1.5 * alone,
        "alone {alone} ms, beside the Job {shared} ms"
    );
}

#[test]
fn a_resource_quota_holds_pods_back_until_room_is_freed() {
    // Quota requests.cpu 2 in `batch`; a Job of 4 one-cpu pods, all at once, 2 minutes each:
    // two pods at 0 (the third is refused: FailedCreate, once however often the controller
    // asks), two more when the first two end at 120 s — the first pod's end lets one in and
    // the Job asks for two, so a second episode is told — and complete at 240 s.
    let text = r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: quota}
spec:
  duration: 10m
  seed: 2
  startWarm: false
  cluster:
    nodePools:
      - {name: pool, count: 1, allocatable: {cpu: "8", memory: 32Gi}}
  workloads:
    - {job: batch/crunch, startupTime: 0s, runTime: 2m}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: batch}
spec:
  hard: {requests.cpu: "2", pods: "10", count/configmaps: "5"}
---
apiVersion: batch/v1
kind: Job
metadata: {name: crunch, namespace: batch}
spec:
  completions: 4
  parallelism: 4
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, resources: {requests: {cpu: "1", memory: 1Gi}}}]
"#;
    let out = run_text("job-quota", text);
    assert_eq!(created(&out), vec![0.0, 0.0, 120.0, 120.0]);
    let refused: Vec<(f64, String)> = (out.cluster_events.iter())
        .filter(|e| format!("{:?}", e.reason) == "FailedCreate")
        .map(|e| (e.t_seconds, e.message.clone()))
        .collect();
    let message = "pods of crunch are forbidden: exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=2, limited: requests.cpu=2";
    assert_eq!(
        refused,
        vec![(0.0, message.to_string()), (120.0, message.to_string())]
    );
    assert_eq!(job(&out).finished_seconds, Some(240.0));
}
