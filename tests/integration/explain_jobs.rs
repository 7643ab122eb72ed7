//! `kubesim explain --job` and `--cronjob` (issue 52): the Job controller's and the CronJob
//! controller's decisions told with their arithmetic, checked sentence by sentence against the
//! timelines `jobs.rs` derives by hand.

use kubesim::engine::RunOutput;
use kubesim::output::explain::job::{cron_story, job_story};
use kubesim::sim::SimTime;

use crate::jobs::{MONDAY, run_cron, run_job};
use crate::support::{kubesim, stderr};

fn story(out: &RunOutput, job: &str) -> String {
    let records = &out.job_records;
    job_story(records, &out.pod_events, &out.cluster_events, job).expect("the Job ran")
}

fn cron(out: &RunOutput, minutes: u64) -> String {
    let settings = out.job_records.cron_jobs[0].settings;
    cron_story(
        &out.job_records,
        "nightly",
        &settings,
        SimTime::from_secs(60 * minutes),
    )
}

#[test]
fn a_failing_job_tells_each_backoff_and_its_limit() {
    // Every run fails after 60 s, backoffLimit 3: pod 1 fails at 60 → 10 s × 2^0 = 10 s →
    // pod 2 at 70, fails at 130 → 10 s × 2^1 = 20 s → pod 3 at 150, fails at 210 → 40 s →
    // pod 4 at 250, fails at 310: 4 failed > 3 → BackoffLimitExceeded.
    let out = run_job("explain-job-backoff", "  backoffLimit: 3\n", "60s", 1.0, 20);
    let need = "1 to succeed − 0 succeeded − 0 running = 1 still to start; parallelism 1 − 0 running leaves room for 1: 1 pod created";
    let need_after = "1 to succeed − 0 succeeded − 0 running = 1 still to start; parallelism 1 − 0 running leaves room for 1, the pod failure backoff being over: 1 pod created";
    let expected = format!(
        "Job report: completions 1, parallelism 1, backoffLimit 3
00:00:00 sync: {need} (report-j8vbb)
00:01:00 pod report-j8vbb: Container exited with code 1 (Error)
00:01:00 sync: 1 failed in all, within backoffLimit 3; failure 1 since the last success: the pod failure backoff is 10s × 2^0 = 10s, so the 1 pod it needs waits until 00:01:10
00:01:10 sync: {need_after} (report-s4bcb)
00:02:10 pod report-s4bcb: Container exited with code 1 (Error)
00:02:10 sync: 2 failed in all, within backoffLimit 3; failure 2 since the last success: the pod failure backoff is 10s × 2^1 = 20s, so the 1 pod it needs waits until 00:02:30
00:02:30 sync: {need_after} (report-5wpcb)
00:03:30 pod report-5wpcb: Container exited with code 1 (Error)
00:03:30 sync: 3 failed in all, within backoffLimit 3; failure 3 since the last success: the pod failure backoff is 10s × 2^2 = 40s, so the 1 pod it needs waits until 00:04:10
00:04:10 sync: {need_after} (report-fs5cb)
00:05:10 pod report-fs5cb: Container exited with code 1 (Error)
00:05:10 sync: 4 pods failed, more than backoffLimit 3: Failed (BackoffLimitExceeded)
"
    );
    assert_eq!(story(&out, "report"), expected);
}

#[test]
fn a_job_past_its_deadline_tells_the_deadline_and_the_pods_it_deletes() {
    // completions 4, parallelism 2: two pods at 0; runs of 10 min against
    // activeDeadlineSeconds 300: at 300 the Job fails and both pods are deleted.
    let spec = "  completions: 4\n  parallelism: 2\n  activeDeadlineSeconds: 300\n";
    let out = run_job("explain-job-deadline", spec, "10m", 0.0, 20);
    assert_eq!(
        story(&out, "report"),
        "Job report: completions 4, parallelism 2, backoffLimit 6, activeDeadlineSeconds 300
00:00:00 sync: 4 to succeed − 0 succeeded − 0 running = 4 still to start; parallelism 2 − 0 running leaves room for 2: 2 pods created (report-j8vbb, report-s4bcb)
00:05:00 sync: started at 00:00:00, activeDeadlineSeconds 300 ran out at 00:05:00: Failed (DeadlineExceeded) with 0 of 4 succeeded; the 2 pods still running are deleted
00:05:00 pod report-j8vbb deleted: Stopping container
00:05:00 pod report-s4bcb deleted: Stopping container
"
    );
}

#[test]
fn a_cronjob_tells_runs_skipped_started_late_missed_and_replaced() {
    // Every 10 min, runs of 15 min, Forbid: the Job for 00:10 runs to 00:25; at 00:20 it is
    // active, so that run waits. Without startingDeadlineSeconds it starts at 00:25, 5 min
    // late; then at 00:30 that one is active in turn, and the run for 00:30 is still waiting
    // when the run ends at 00:31.
    let forbid = "  schedule: \"*/10 * * * *\"\n  concurrencyPolicy: Forbid\n";
    let out = run_cron("explain-cron-late", forbid, "15m", MONDAY, 31);
    let wait = "still active and concurrencyPolicy Forbid; it starts when that ends";
    assert_eq!(
        cron(&out, 31),
        format!(
            "CronJob nightly: concurrencyPolicy Forbid, no startingDeadlineSeconds, successfulJobsHistoryLimit 3, failedJobsHistoryLimit 1
00:10:00 due: started nightly-29459530
00:20:00 due, not started: nightly-29459530 {wait}, unless a later run comes due first
00:25:00 nightly-29459530 complete (1 succeeded, 0 failed)
00:25:00 started nightly-29459540 for 00:20:00, 5m0s late: the Jobs that held it back are over and the run is still due (no startingDeadlineSeconds)
00:30:00 due, not started: nightly-29459540 {wait}, unless a later run comes due first
00:31:00 the run due at 00:30:00 was still waiting when the run ended
"
        )
    );
    // startingDeadlineSeconds 200: the run for 00:20 may start until 00:23:20; the Job
    // holding it ends at 00:25, so it is missed, and the next Job is the one for 00:30.
    let deadline = format!("{forbid}  startingDeadlineSeconds: 200\n");
    let out = run_cron("explain-cron-missed", &deadline, "15m", MONDAY, 31);
    let told = cron(&out, 31);
    let lines: Vec<&str> = told.lines().skip(2).collect();
    assert_eq!(
        lines,
        [
            format!("00:20:00 due, not started: nightly-29459530 {wait}, if by 00:23:20").as_str(),
            "00:23:20 the run due at 00:20:00 is missed: still held back when its startingDeadlineSeconds 200 ran out",
            "00:25:00 nightly-29459530 complete (1 succeeded, 0 failed)",
            "00:30:00 due: started nightly-29459550",
        ]
    );
    // Replace: each new run deletes the one still active.
    let replace = "  schedule: \"*/10 * * * *\"\n  concurrencyPolicy: Replace\n";
    let out = run_cron("explain-cron-replace", replace, "15m", MONDAY, 31);
    let told = cron(&out, 31);
    assert!(
        told.contains("00:20:00 deleted nightly-29459530: concurrencyPolicy Replace: the run due now replaces it\n00:20:00 due: started nightly-29459540\n"),
        "{told}"
    );
    // The Job a CronJob started says so, and how it ended.
    let job = story(&out, "nightly-29459530");
    assert!(
        job.starts_with("Job nightly-29459530 (started by CronJob nightly for 00:10:00): completions 1")
            && job.ends_with("00:20:00 Job deleted by CronJob nightly: concurrencyPolicy Replace: the run due now replaces it\n"),
        "{job}"
    );
}

#[test]
fn explain_job_and_cronjob_on_the_shipped_batch_scenario_and_bad_names() {
    let scenario = "scenarios/batch-and-services/scenario.yaml";
    let told = kubesim(&["explain", scenario, "--cronjob", "nightly-etl"]);
    assert_eq!(told.status.code(), Some(0), "{}", stderr(&told));
    let text = String::from_utf8_lossy(&told.stdout);
    assert!(
        text.starts_with(
            "CronJob nightly-etl: concurrencyPolicy Forbid, no startingDeadlineSeconds"
        ) && text.contains("01:00:00 due: started nightly-etl-29462760\n"),
        "{text}"
    );
    // Its Job: 12 completions 6 at a time, each success making room for one more pod.
    let told = kubesim(&["explain", scenario, "--job", "nightly-etl-29462760"]);
    assert_eq!(told.status.code(), Some(0), "{}", stderr(&told));
    let text = String::from_utf8_lossy(&told.stdout);
    assert!(
        text.contains("01:00:00 sync: 12 to succeed − 0 succeeded − 0 running = 12 still to start; parallelism 6 − 0 running leaves room for 6: 6 pods created (")
            && text.contains("sync: 12 to succeed − 1 succeeded − 5 running = 6 still to start; parallelism 6 − 5 running leaves room for 1: 1 pod created (")
            && text.contains("sync: 12 of 12 succeeded: Complete (0 failed on the way)"),
        "{text}"
    );
    // The hourly rollup due at 01:15 while the ETL's shards fill the batch quota: refused,
    // asked for again at every sync, created when a shard has finished.
    let told = kubesim(&["explain", scenario, "--job", "hourly-rollup-29462775"]);
    let text = String::from_utf8_lossy(&told.stdout);
    assert!(
        text.contains("01:15:00 sync: 1 to succeed − 0 succeeded − 0 running = 1 still to start; parallelism 1 − 0 running leaves room for 1: 1 pod asked for, refused (pods of hourly-rollup are forbidden: exceeded quota: batch-compute, requested: requests.cpu=1, used: requests.cpu=12, limited: requests.cpu=12), and asked again at every sync until created at 01:55:17.495 (hourly-rollup-29462775-zsrrb)\n"),
        "{text}"
    );
    // Bad names: exit 2, what exists listed, nothing on stdout.
    let cases = [
        (
            "--job",
            "nightly-etl",
            "\"nightly-etl\" is a CronJob: `--cronjob nightly-etl` tells its runs",
        ),
        (
            "--job",
            "nightly",
            "no Job \"nightly\" in this run; it ran: hourly-rollup-29462715, nightly-etl-29462760,",
        ),
        (
            "--cronjob",
            "nightly-et",
            "no CronJob \"nightly-et\" in this scenario (did you mean \"nightly-etl\"?); it has: nightly-etl, hourly-rollup, morning-report",
        ),
    ];
    for (flag, name, message) in cases {
        let out = kubesim(&["explain", scenario, flag, name]);
        assert_eq!(out.status.code(), Some(2), "{flag} {name}");
        assert!(
            stderr(&out).contains(message),
            "{flag} {name}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
}
