//! `kubesim explain`: run a scenario and tell, in sentences, why an HPA chose its replicas, why
//! the Deployment controller scaled a ReplicaSet, how a Job ran and what a CronJob did, why a pod
//! was Pending, what happened to a node, or what a VPA recommends; or, with `--all` alone, the
//! whole cluster's story in time order.

use std::path::PathBuf;

use anyhow::bail;

use super::{ScenarioOptions, Status, load_and_report, run_timed};
use kubesim::output::explain::hpa::{Selection, select, sentence};
use kubesim::output::explain::{
    cluster, deployment, job, karpenter, lifecycle, node, pod, restarts, statefulset, vpa,
};
use kubesim::scenario::diag::did_you_mean_hint;
use kubesim::scenario::units::parse_duration;
use kubesim::scenario::{CronJobSettings, PodSource, Scenario};
use kubesim::spec::network::ZONE_LABEL;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file, or a folder holding a scenario.yaml.
    pub scenario: PathBuf,
    /// The HorizontalPodAutoscaler to explain (may be omitted when the scenario has one).
    #[arg(long, conflicts_with = "pod")]
    pub hpa: Option<String>,
    /// Why was a pod Pending? With a NAME: that pod's events (failed scheduling attempts with
    /// the scheduler's per-filter reasons, the Cluster Autoscaler's response, binding), the
    /// cluster events that retry it, and why its container restarted (a probe's deadline or
    /// failures and why the app did not answer, the memory limit, a crash; the back-off
    /// doubling from 10 s to 5 min); without: the pods that waited longest.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub pod: Option<String>,
    /// What happened to node NAME and why: the machine's failures and recoveries, cordons and
    /// drains, and the node lifecycle controller's answer (NotReady after 50 s without a
    /// heartbeat, the NoExecute taint at its zone's rate, evictions when the pods' tolerations
    /// run out); each pod it lost and the pod that replaced it. With the Cluster Autoscaler:
    /// when it was unneeded, each reason it was not removed (with the pod that blocked it), its
    /// removal. For a node Karpenter launched: why it was bought (for which pods, the cheapest
    /// of how many instance types), what held it, and how it was disrupted.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hpa", "pod"])]
    pub node: Option<String>,
    /// Why does a VerticalPodAutoscaler recommend what it does? For each container: each
    /// bound's percentile of the usage history, the 15 % margin, the confidence that history
    /// gives, the pod minimum, OOM kills and the policy's caps; then what the recommendations
    /// would have changed (requests and cost). NAME may be omitted when the scenario has one
    /// VPA; `--at` picks the recommendation in force then.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["hpa", "pod", "node", "all"])]
    pub vpa: Option<String>,
    /// Why did the Deployment controller scale a ReplicaSet? Each reconcile of Deployment NAME
    /// that changed one, with the rollout arithmetic (maxSurge and maxUnavailable resolved,
    /// how many pods may be added or removed and why), proportional scaling mid-rollout,
    /// rollbacks and the revision history, among the Deployment's events (rollout started and
    /// completed, progress deadline, scripted pause, resume, undo, scale). A lone ReplicaSet
    /// following an HPA is counted unless `--all`; `--at` tells the reconcile then.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hpa", "pod", "node", "vpa"])]
    pub deployment: Option<String>,
    /// How did Job NAME run? Each sync of the Job controller that decided something, with its
    /// arithmetic (the completions still missing, the room parallelism leaves, the pod failure
    /// backoff of 10 s doubling per failure, why it finished: completions reached, more
    /// failures than backoffLimit, activeDeadlineSeconds), among its pods' ends. NAME is a Job
    /// workload or one of the Jobs a CronJob started (`<cronjob>-<scheduled minutes>`, as
    /// `--cronjob` lists them).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hpa", "pod", "node", "vpa", "deployment", "at", "all"])]
    pub job: Option<String>,
    /// What did CronJob NAME do? Each schedule time it acted on: the Job started (on time, or
    /// late once the Job that held it back ended), skipped (a Job still active under
    /// concurrencyPolicy Forbid), missed (startingDeadlineSeconds ran out, or a later run came
    /// due first); the Jobs it deleted (Replace, history limits); each Job's outcome.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hpa", "pod", "node", "vpa", "deployment", "job", "at", "all"])]
    pub cronjob: Option<String>,
    /// How did StatefulSet NAME create, delete and replace its pods? Each reconcile that did
    /// or waited: OrderedReady's one pod at a time in ordinal order, each once the one before
    /// is Running and Ready (and what the pod it waits for is doing), scale-down from the
    /// highest ordinal, Parallel's all at once, the rolling update from the highest ordinal
    /// down to the partition, and why an ordinal got a pod again.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hpa", "pod", "node", "vpa", "deployment", "job", "cronjob", "at", "all"])]
    pub statefulset: Option<String>,
    /// How much to tell: with --pod and no NAME, how many pods to list (default 20); with
    /// --all and no HPA or Deployment, how many lines of the story (default 2000).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// Explain the sync at (or last before) this simulated time: `HH:MM[:SS]` or a duration
    /// such as `12m15s`.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Without --hpa or --deployment: the whole cluster's story, one time-ordered line per
    /// thing that happened, naming its object (`hpa/web`, `deployment/web`, `node/general-1`,
    /// `pod/…`): scripted actions, the node lifecycle controller, the Cluster Autoscaler or
    /// Karpenter, each HPA's syncs that changed something, the Deployment, StatefulSet,
    /// CronJob and Job controllers, and the pods' waits, replacements, probe failures and
    /// restarts; for short runs (at most --limit lines, 2000 by default). With --hpa: every
    /// sync, not only those that changed replicas, were held by the stabilization window or a
    /// limit (when that changed the outcome), or changed a condition; with --deployment: every
    /// reconcile.
    #[arg(long, conflicts_with_all = ["at", "pod", "node"])]
    pub all: bool,
    #[command(flatten)]
    pub options: ScenarioOptions,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    check_limit(&args)?;
    let Some(scenario) = load_and_report(&args.scenario, &args.options) else {
        return Ok(Status::BadInput);
    };
    if let Some(name) = &args.pod {
        return explain_pod(&scenario, name, args.limit.unwrap_or(20));
    }
    if let Some(name) = &args.node {
        return explain_node(&scenario, name);
    }
    if let Some(name) = &args.vpa {
        let at = args.at.as_deref().map(parse_time).transpose()?;
        return explain_vpa(&scenario, name, at);
    }
    if let Some(name) = &args.job {
        return explain_job(&scenario, name);
    }
    if let Some(name) = &args.cronjob {
        return explain_cron_job(&scenario, name);
    }
    if let Some(name) = &args.statefulset {
        return explain_stateful_set(&scenario, name);
    }
    if let Some(name) = &args.deployment {
        let selection = match (&args.at, args.all) {
            (Some(at), _) => deployment::Selection::At(parse_time(at)?),
            (None, true) => deployment::Selection::All,
            (None, false) => deployment::Selection::Rollouts,
        };
        return explain_deployment(&scenario, name, selection);
    }
    if args.all && args.hpa.is_none() {
        let limit = args.limit.unwrap_or(cluster::DEFAULT_LINES);
        let timed = run_timed(&scenario, kubesim::engine::Records::Keep)?;
        super::out(cluster::story(&scenario, &timed.output, limit).trim_end());
        return Ok(Status::Success);
    }
    let names: Vec<&str> = scenario.hpas.iter().map(|h| h.name.as_str()).collect();
    let hpa = match (&args.hpa, names.as_slice()) {
        (Some(h), _) if names.contains(&h.as_str()) => h.clone(),
        (Some(h), _) => {
            let hint = did_you_mean_hint(h, names.iter().copied());
            bail!(
                "no HorizontalPodAutoscaler {h:?} in this scenario{hint}; it has: {}",
                names.join(", ")
            );
        }
        (None, [only]) => only.to_string(),
        (None, []) => bail!(
            "this scenario has no HorizontalPodAutoscaler: name what to explain (--deployment, --statefulset, --job, --cronjob, --node, --pod or --vpa), or `--all` for the whole cluster's story"
        ),
        (None, _) => bail!(
            "this scenario has several HPAs: choose one with --hpa ({}), or `--all` for the whole cluster's story",
            names.join(", ")
        ),
    };
    let selection = match (&args.at, args.all) {
        (Some(at), _) => Selection::At(parse_time(at)?),
        (None, true) => Selection::All,
        (None, false) => Selection::Interesting,
    };
    let timed = run_timed(&scenario, kubesim::engine::Records::Keep)?;
    let chosen = select(&timed.output.hpa_decisions, &hpa, selection);
    if chosen.is_empty() {
        super::out(format!(
            "{hpa}: no sync matched (the HPA syncs every {})",
            scenario.hpa_settings.sync_period
        ));
    }
    for d in chosen {
        super::out(sentence(d));
    }
    Ok(Status::Success)
}

/// `--limit` counts pods (`--pod` without a name) or the story's lines (`--all` alone).
fn check_limit(args: &Args) -> anyhow::Result<()> {
    let lists_pods = args.pod.as_deref() == Some("");
    let tells_story = args.all && args.hpa.is_none() && args.deployment.is_none();
    if args.limit.is_some() && !lists_pods && !tells_story {
        bail!(
            "--limit counts the pods `--pod` lists without a name, or the lines of the story `--all` tells without --hpa or --deployment"
        );
    }
    Ok(())
}

/// A pod's events, or (with an empty name) the pods that waited longest.
fn explain_pod(scenario: &Scenario, name: &str, limit: usize) -> anyhow::Result<Status> {
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let events = &timed.output.pod_events;
    let end = scenario.duration.as_secs_f64();
    if name.is_empty() {
        super::out(pod::pending_table(events, end, limit).trim_end());
        return Ok(Status::Success);
    }
    match pod::timeline(events, name, end) {
        Some(text) => {
            let restarts = restarts::story(&timed.output.restart_records, name);
            super::out((text + &restarts.unwrap_or_default()).trim_end());
            Ok(Status::Success)
        }
        None => {
            let hint = did_you_mean_hint(name, pod::pod_names(events));
            bail!(
                "no pod {name:?} in this run{hint}; `--pod` without a name lists the pods that were Pending"
            )
        }
    }
}

/// A node's story: the machine's events and the node lifecycle controller's decisions, its
/// lost pods' replacements, then the Cluster Autoscaler's view of it or Karpenter's.
fn explain_node(scenario: &Scenario, name: &str) -> anyhow::Result<Status> {
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let output = &timed.output;
    let nodes = &output.history.objects.nodes;
    let Some(facts) = nodes.iter().find(|n| n.name == name) else {
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let hint = did_you_mean_hint(name, names.iter().copied());
        bail!(
            "no node {name:?} in this run{hint}; it had: {}",
            listed(&names)
        );
    };
    let zone = (facts.labels.get(ZONE_LABEL)).map_or(String::new(), |z| format!(", zone {z}"));
    let mut text = format!("node {name} (pool {}{zone})\n", facts.pool);
    let machine = lifecycle::machine(&output.cluster_events, name);
    let replaced = lifecycle::replaced(&output.pod_events, name);
    let ca_events = output.autoscaler_events.as_deref().unwrap_or_default();
    let k_events = output.karpenter_events.as_deref().unwrap_or_default();
    let autoscaler = (scenario.cluster_autoscaler.as_ref())
        .and_then(|settings| node::timeline(ca_events, name, settings))
        .or_else(|| karpenter::timeline(k_events, name));
    let parts = [machine, autoscaler, replaced];
    if parts.iter().all(Option::is_none) {
        text += "nothing happened to it: its heartbeat never stopped, nothing cordoned, drained or failed it, and none of its pods was replaced";
        text += match (&scenario.cluster_autoscaler, &scenario.karpenter) {
            (None, None) => "; no node autoscaler runs in this scenario",
            _ => "; the node autoscaler never judged it",
        };
    }
    for part in parts.into_iter().flatten() {
        text += &part;
    }
    super::out(text.trim_end());
    Ok(Status::Success)
}

/// The names of the scenario's workloads whose source is `kind`.
fn workload_names(scenario: &Scenario, kind: impl Fn(&PodSource) -> bool) -> Vec<&str> {
    (scenario.deployments.iter())
        .filter(|d| kind(&d.source))
        .map(|d| d.name.as_str())
        .collect()
}

/// `no KIND "name" in this scenario (did you mean …?); it has: a, b` (or `it has none`).
fn no_such(kind: &str, name: &str, names: &[&str]) -> anyhow::Error {
    let hint = did_you_mean_hint(name, names.iter().copied());
    let listed = match names {
        [] => "it has none".to_string(),
        _ => format!("it has: {}", names.join(", ")),
    };
    anyhow::anyhow!("no {kind} {name:?} in this scenario{hint}; {listed}")
}

/// The first names of a list, and how many more.
fn listed(names: &[&str]) -> String {
    const SHOWN: usize = 20;
    let shown = names[..names.len().min(SHOWN)].join(", ");
    match names.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The Deployment controller's reconciles of one Deployment, among its events.
fn explain_deployment(
    scenario: &Scenario,
    name: &str,
    selection: deployment::Selection,
) -> anyhow::Result<Status> {
    let names = workload_names(scenario, |source| source.is_replicated());
    if !names.contains(&name) {
        return Err(no_such("Deployment", name, &names));
    }
    check_instant(scenario, &selection)?;
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let output = &timed.output;
    let text = deployment::story(
        &output.rollout_records,
        &output.cluster_events,
        name,
        selection,
    );
    if text.is_empty() {
        super::out(format!(
            "{name}: its controller changed nothing before that instant"
        ));
    } else {
        super::out(text.trim_end());
    }
    Ok(Status::Success)
}

/// How a Job ran.
fn explain_job(scenario: &Scenario, name: &str) -> anyhow::Result<Status> {
    if cron_job_settings(scenario, name).is_some() {
        bail!(
            "{name:?} is a CronJob: `--cronjob {name}` tells its runs and names its Jobs, each of which `--job` explains"
        );
    }
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let output = &timed.output;
    let records = &output.job_records;
    let story = job::job_story(records, &output.pod_events, &output.cluster_events, name);
    let Some(text) = story else {
        let names = job::job_names(records);
        let hint = did_you_mean_hint(name, names.iter().copied());
        let listed = match names.as_slice() {
            [] => "none ran".to_string(),
            _ => format!("it ran: {}", listed(&names)),
        };
        let truncated = match records.jobs_truncated() {
            true => {
                " (the run kept the Job controller's first 100000 decisions: a Job started after those is not told)"
            }
            false => "",
        };
        bail!("no Job {name:?} in this run{hint}; {listed}{truncated}");
    };
    super::out(text.trim_end());
    Ok(Status::Success)
}

/// CronJob `name`'s settings, if the scenario has one of that name.
fn cron_job_settings(scenario: &Scenario, name: &str) -> Option<CronJobSettings> {
    scenario
        .deployments
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| match d.source {
            PodSource::CronJob(settings) => Some(settings),
            _ => None,
        })
}

/// What a CronJob started, skipped, missed and deleted.
fn explain_cron_job(scenario: &Scenario, name: &str) -> anyhow::Result<Status> {
    let Some(settings) = cron_job_settings(scenario, name) else {
        let names = workload_names(scenario, |source| matches!(source, PodSource::CronJob(_)));
        return Err(no_such("CronJob", name, &names));
    };
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let end = kubesim::sim::SimTime::ZERO + scenario.duration;
    let text = job::cron_story(&timed.output.job_records, name, &settings, end);
    super::out(text.trim_end());
    Ok(Status::Success)
}

/// How a StatefulSet created, deleted and replaced its pods.
fn explain_stateful_set(scenario: &Scenario, name: &str) -> anyhow::Result<Status> {
    let names = workload_names(scenario, |source| *source == PodSource::StatefulSet);
    if !names.contains(&name) {
        return Err(no_such("StatefulSet", name, &names));
    }
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let output = &timed.output;
    match statefulset::story(&output.stateful_records, &output.pod_events, name) {
        Some(text) => super::out(text.trim_end()),
        None => super::out(format!("{name}: its controller did nothing in this run")),
    }
    Ok(Status::Success)
}

/// `--at` must fall inside the run.
fn check_instant(scenario: &Scenario, selection: &deployment::Selection) -> anyhow::Result<()> {
    let end = scenario.duration.as_secs_f64();
    match *selection {
        deployment::Selection::At(t) if t > end => bail!(
            "--at {}: the run lasts {} (from 00:00:00 to {})",
            kubesim::sim::SimTime::from_micros((t * 1e6).round() as u64),
            scenario.duration,
            kubesim::sim::SimTime::from_micros((end * 1e6).round() as u64)
        ),
        _ => Ok(()),
    }
}

/// Why a VPA recommends what it does (at `at` seconds, else at the end).
fn explain_vpa(scenario: &Scenario, name: &str, at: Option<f64>) -> anyhow::Result<Status> {
    let names: Vec<&str> = scenario.vpas.iter().map(|v| v.name.as_str()).collect();
    let vpa = match (name, names.as_slice()) {
        (_, []) => bail!("this scenario has no VerticalPodAutoscaler"),
        ("", [only]) => *only,
        ("", _) => bail!(
            "this scenario has several VPAs: choose one with --vpa NAME ({})",
            names.join(", ")
        ),
        (n, _) if names.contains(&n) => n,
        (n, _) => {
            let hint = did_you_mean_hint(n, names.iter().copied());
            bail!(
                "no VerticalPodAutoscaler {n:?} in this scenario{hint}; it has: {}",
                names.join(", ")
            )
        }
    };
    let timed = run_timed(scenario, kubesim::engine::Records::Keep)?;
    let records = timed.output.vpa_records.as_deref().unwrap_or_default();
    let Some(record) = vpa::select(records, vpa, at) else {
        super::out(format!(
            "{vpa}: no recommendation yet (the recommender's first loop is one minute after the start)"
        ));
        return Ok(Status::Success);
    };
    let report = timed.output.report.vpas.iter().find(|r| r.name == vpa);
    super::out(vpa::explain(record, report).trim_end());
    Ok(Status::Success)
}

/// `HH:MM[:SS]` or a Go duration, as seconds since the start. Hours are whole (any number of
/// them, within the run's clock), minutes and seconds whole below 60 (seconds may have a
/// fraction).
fn parse_time(text: &str) -> anyhow::Result<f64> {
    if let Ok(d) = parse_duration(text) {
        return Ok(d.as_secs_f64());
    }
    let bad = || {
        anyhow::anyhow!(
            "--at {text:?}: expected HH:MM[:SS] (minutes and seconds below 60) or a duration such as 12m15s"
        )
    };
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let whole = |p: &str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let (Some(hours), Some(minutes)) = (whole(parts[0]), whole(parts[1])) else {
        return Err(bad());
    };
    let seconds = match parts.get(2) {
        None => 0.0,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !p.is_empty() => {
            p.parse::<f64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    // A clock of more than a million hours is beyond any run (114 years).
    if minutes >= 60 || seconds >= 60.0 || hours > 1_000_000 {
        return Err(bad());
    }
    Ok(hours as f64 * 3600.0 + minutes as f64 * 60.0 + seconds)
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times() {
        assert_eq!(parse_time("12m15s").unwrap(), 735.0);
        assert_eq!(parse_time("00:12:15").unwrap(), 735.0);
        assert_eq!(parse_time("1:30").unwrap(), 5400.0);
        assert_eq!(parse_time("00:00:07.5").unwrap(), 7.5);
        assert!(parse_time("noon").is_err());
        // Not clock times: minutes or seconds of 60 and more, signs, absurd hours.
        for text in [
            "25:99",
            "00:-5",
            "99999999999999999999:00",
            "1:2:60",
            "-1:00",
            "1:",
            ":5",
        ] {
            assert!(parse_time(text).is_err(), "{text}");
        }
    }
}
