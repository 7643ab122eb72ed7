//! `kubesim explain --statefulset`: each reconcile of a StatefulSet that created or deleted
//! pods, or waited for one, in a sentence with the rule it followed — OrderedReady's one pod at
//! a time in ordinal order (each once the one before is available), scale-down from the
//! highest ordinal, Parallel's all at once, the rolling update from the highest ordinal down
//! to the partition — and why a pod was created again (what removed the one before).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::controllers::PodEventReason;
use crate::controllers::statefulset::record::{PodState, StatefulRecord, StatefulRecords};
use crate::controllers::statefulset::{Next, Step};
use crate::metrics::pod_events::PodEvent;
use crate::sim::SimTime;

use super::clock;

/// Every StatefulSet that has a record, in the order they first reconciled.
pub fn names(records: &StatefulRecords) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in &records.records {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    names
}

/// StatefulSet `name`'s story: its spec, then one line per recorded reconcile (`None`: it has
/// no record).
pub fn story(records: &StatefulRecords, pod_events: &[PodEvent], name: &str) -> Option<String> {
    let first = records.records.iter().find(|r| r.name == name)?;
    let mut text = format!("StatefulSet {name}: {}\n", spec(first));
    for (at, line) in lines(records, pod_events, name) {
        let _ = writeln!(text, "{at} {line}");
    }
    if records.truncated() {
        text += "(the run kept the StatefulSet controller's first 100000 records: later ones are not told)\n";
    }
    Some(text)
}

/// StatefulSet `name`'s reconciles, one line per step: its instant and its sentence.
pub fn lines(
    records: &StatefulRecords,
    pod_events: &[PodEvent],
    name: &str,
) -> Vec<(SimTime, String)> {
    let mut teller = Teller {
        name,
        pod_events,
        ever_created: BTreeSet::new(),
        deleted_here: BTreeSet::new(),
        told_rules: BTreeSet::new(),
    };
    let mine = records.records.iter().filter(|r| r.name == name);
    (mine.flat_map(|r| r.steps.iter().map(move |step| (r, step))))
        .map(|(r, step)| (r.at, teller.sentence(r, step)))
        .collect()
}

/// `replicas 3, OrderedReady, RollingUpdate (partition 0)`.
fn spec(r: &StatefulRecord) -> String {
    let policy = if r.parallel {
        "Parallel"
    } else {
        "OrderedReady"
    };
    let update = match r.rolling {
        true if r.partition > 0 => format!("RollingUpdate (partition {})", r.partition),
        true => "RollingUpdate".to_string(),
        false => "OnDelete".to_string(),
    };
    let mut text = format!(
        "replicas {}, podManagementPolicy {policy}, updateStrategy {update}",
        r.replicas
    );
    if !r.min_ready.is_zero() {
        let _ = write!(text, ", minReadySeconds {}", r.min_ready.as_secs_f64());
    }
    text
}

/// What the story has told so far, which the next sentences depend on.
struct Teller<'a> {
    name: &'a str,
    pod_events: &'a [PodEvent],
    /// Ordinals that have had a pod.
    ever_created: BTreeSet<u32>,
    /// Ordinals whose last pod the controller itself deleted (scale-down, rolling update).
    deleted_here: BTreeSet<u32>,
    /// The rules spelled out once already.
    told_rules: BTreeSet<String>,
}

impl Teller<'_> {
    fn pod(&self, ordinal: u32) -> String {
        format!("{}-{ordinal}", self.name)
    }

    /// The rule in parentheses: in full the first time, by name after.
    fn rule(&mut self, name: &'static str, full: String) -> String {
        match self.told_rules.insert(format!("{name}: {full}")) {
            true => format!("{name}: {full}"),
            false => name.to_string(),
        }
    }

    fn sentence(&mut self, r: &StatefulRecord, step: &Step) -> String {
        match step {
            Step::NewRevision => new_revision(r),
            Step::Create { update, current } => self.create(r, update, current),
            Step::Delete { ordinals } => self.delete(r, ordinals),
            Step::Update { ordinal } => self.update(r, *ordinal),
            Step::UpdateComplete => format!(
                "every pod is at the update revision {} and Ready: the rolling update is complete and {0} becomes the current revision",
                r.update_revision
            ),
            Step::WaitAvailable { ordinal, next, .. } => self.wait_available(r, *ordinal, *next),
            Step::WaitTerminating { ordinal, next, .. } => {
                let stuck = r.node_down.as_deref().map_or(String::new(), stuck_on);
                self.wait_terminating(*ordinal, *next) + &stuck
            }
        }
    }

    fn create(&mut self, r: &StatefulRecord, update: &[u32], current: &[u32]) -> String {
        let all: Vec<u32> = current.iter().chain(update).copied().collect();
        let again: Vec<(u32, Option<String>)> = (all.iter())
            .filter_map(|&k| self.again(k, r.at).map(|cause| (k, cause)))
            .collect();
        let created = match again.len() == all.len() {
            true => "created again",
            false => "created",
        };
        let mut text = match r.parallel {
            true => {
                let rule = self.rule(
                    "Parallel",
                    format!(
                        "every missing ordinal below replicas {} at once",
                        r.replicas
                    ),
                );
                format!("{} {created} ({rule})", self.listed(&all))
            }
            false => {
                let rule = self.rule(
                    "OrderedReady",
                    format!(
                        "one pod at a time, in ordinal order, each once the one before is available, up to replicas {}",
                        r.replicas
                    ),
                );
                format!("{} {created} ({rule})", self.before_available(r, all[0]))
            }
        };
        if r.current_revision != r.update_revision {
            text += &revisions(r, update, current, |k| self.listed_short(k));
        }
        for (k, cause) in again {
            match cause {
                Some(cause) if all.len() == 1 => {
                    let _ = write!(text, ": {cause}");
                }
                Some(cause) => {
                    let _ = write!(text, "; {}: {cause}", self.pod(k));
                }
                None => {}
            }
        }
        text
    }

    /// `db-0 is available (…), so db-1 is` or `db-0 is` for the first pod.
    fn before_available(&self, r: &StatefulRecord, k: u32) -> String {
        let available = match r.min_ready.is_zero() {
            true => "Running and Ready".to_string(),
            false => format!("Ready for minReadySeconds {}", r.min_ready.as_secs_f64()),
        };
        let before = match k {
            0 => return format!("{} is", self.pod(0)),
            1 => format!("{} is", self.pod(0)),
            2 => format!("{} and {} are", self.pod(0), self.pod(1)),
            _ => format!("{} to {} are", self.pod(0), self.pod(k - 1)),
        };
        format!("{before} available ({available}), so {} is", self.pod(k))
    }

    /// Whether ordinal `k` had a pod before (`None`: it did not), and then what removed it when
    /// the controller did not (`Some(None)`: the controller did); notes the new pod.
    fn again(&mut self, k: u32, at: SimTime) -> Option<Option<String>> {
        let had = !self.ever_created.insert(k);
        let by_controller = self.deleted_here.remove(&k);
        if !had {
            return None;
        }
        if by_controller {
            return Some(None);
        }
        Some(Some(self.cause(k, at)))
    }

    /// What removed ordinal `k`'s last pod before `at`, from its pod events.
    fn cause(&self, k: u32, at: SimTime) -> String {
        let pod = self.pod(k);
        let cause = (self.pod_events.iter())
            .rfind(|e| e.pod == pod && clock(e.t_seconds) <= at && removes(e.reason));
        match cause {
            Some(e) => format!(
                "its previous pod went at {} ({:?}: {})",
                clock(e.t_seconds),
                e.reason,
                e.message
            ),
            None => "its previous pod is gone".to_string(),
        }
    }

    fn delete(&mut self, r: &StatefulRecord, ordinals: &[u32]) -> String {
        self.deleted_here.extend(ordinals);
        let rule = match r.parallel {
            true => self.rule("Parallel", "all at once".into()),
            false => self.rule(
                "OrderedReady",
                "the highest ordinal first, one at a time, each once the one before is gone".into(),
            ),
        };
        let verb = if ordinals.len() == 1 { "is" } else { "are" };
        format!(
            "replicas {}, so {} {verb} deleted ({rule})",
            r.replicas,
            self.listed_short(ordinals)
        )
    }

    fn update(&mut self, r: &StatefulRecord, ordinal: u32) -> String {
        self.deleted_here.insert(ordinal);
        let rule = self.rule(
            "RollingUpdate",
            format!(
                "one pod at a time, from the highest ordinal down to partition {}, each once every pod is available",
                r.partition
            ),
        );
        format!(
            "every pod is available and {} is not at the update revision {}, so it is deleted, to be created again from it ({rule})",
            self.pod(ordinal),
            r.update_revision
        )
    }

    fn wait_available(&self, r: &StatefulRecord, ordinal: u32, next: Next) -> String {
        let mut state = r.waiting_for.map_or(String::new(), |s| state(s, r));
        if let Some(node) = &r.node_down {
            let _ = write!(state, "; its node {node}'s machine is down");
        }
        let state = if state.is_empty() {
            state
        } else {
            format!(" ({state})")
        };
        let pod = self.pod(ordinal);
        match next {
            Next::Update(k) => format!(
                "{pod} is not available{state}: the rolling update waits for every pod before replacing {}",
                self.pod(k)
            ),
            Next::Create(k) => format!(
                "{pod} is not available{state}: OrderedReady waits for it before {}{}",
                self.next(next),
                self.gone_before(k, r.at)
            ),
            Next::Delete(_) => format!(
                "{pod} is not available{state}: OrderedReady waits for it before {}",
                self.next(next)
            ),
        }
    }

    /// ` again (its previous pod went at …)` when ordinal `k` had a pod the controller did
    /// not remove.
    fn gone_before(&self, k: u32, at: SimTime) -> String {
        if !self.ever_created.contains(&k) || self.deleted_here.contains(&k) {
            return String::new();
        }
        format!(" again: {}", self.cause(k, at))
    }

    fn wait_terminating(&self, ordinal: u32, next: Next) -> String {
        let pod = self.pod(ordinal);
        match next {
            Next::Create(k) if k == ordinal => format!(
                "{pod}'s previous pod is still terminating and holds its name: {pod} is created again once it is gone"
            ),
            Next::Update(_) => format!(
                "{pod} is still terminating: the rolling update waits for it before {}",
                self.next(next)
            ),
            _ => format!(
                "{pod} is still terminating: OrderedReady waits for it before {}",
                self.next(next)
            ),
        }
    }

    fn next(&self, next: Next) -> String {
        match next {
            Next::Create(k) => format!("creating {}", self.pod(k)),
            Next::Delete(k) => format!("deleting {}", self.pod(k)),
            Next::Update(k) => format!("replacing {}", self.pod(k)),
        }
    }

    /// `db-0, db-1 and db-2 are` / `db-0 is`.
    fn listed(&self, ordinals: &[u32]) -> String {
        let verb = if ordinals.len() == 1 { "is" } else { "are" };
        format!("{} {verb}", self.listed_short(ordinals))
    }

    /// `db-0, db-1 and db-2`.
    fn listed_short(&self, ordinals: &[u32]) -> String {
        let names: Vec<String> = ordinals.iter().map(|&k| self.pod(k)).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

/// ` from the update revision U`, ` from the current revision C (below partition P)`, or both
/// (the second naming its pods).
fn revisions(
    r: &StatefulRecord,
    update: &[u32],
    current: &[u32],
    names: impl Fn(&[u32]) -> String,
) -> String {
    let below = format!(
        "the current revision {} (below partition {})",
        r.current_revision, r.partition
    );
    match (update.is_empty(), current.is_empty()) {
        (false, true) => format!(" from the update revision {}", r.update_revision),
        (true, false) => format!(" from {below}"),
        _ => format!(
            " from the update revision {}; {} from {below}",
            r.update_revision,
            names(current)
        ),
    }
}

/// A reason a pod event gives for a pod going away.
fn removes(reason: PodEventReason) -> bool {
    matches!(
        reason,
        PodEventReason::Killing
            | PodEventReason::Deleted
            | PodEventReason::Preempted
            | PodEventReason::EvictedByVPA
    )
}

fn new_revision(r: &StatefulRecord) -> String {
    match r.current_revision.as_str() {
        "" => "no revision yet: the first is made from the pod template".into(),
        current if r.rolling => format!(
            "the pod template changed: a new revision is made from it (the pods stay at {current} until the rolling update reaches them)"
        ),
        current => format!(
            "the pod template changed: a new revision is made from it (the pods stay at {current} until something deletes them: OnDelete)"
        ),
    }
}

/// Why a terminating pod does not go.
fn stuck_on(node: &str) -> String {
    format!(
        "; it is on node {node}, whose machine is down: nobody there confirms the deletion, so it stays Terminating until the node returns (or, in a real cluster, someone force-deletes it), as a StatefulSet never runs two pods of one name"
    )
}

/// Why a pod is not available, as `kubectl get pods` would say.
fn state(s: PodState, r: &StatefulRecord) -> String {
    match s {
        PodState::Unscheduled => "Pending: no node has taken it".into(),
        PodState::ContainerCreating => "ContainerCreating".into(),
        PodState::ConfigError => "CreateContainerConfigError".into(),
        PodState::CrashLoopBackOff => "CrashLoopBackOff".into(),
        PodState::NotReady => "Running, not Ready".into(),
        PodState::ReadySince(t) => format!(
            "Ready since {t}, not yet for minReadySeconds {}",
            r.min_ready.as_secs_f64()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PodId;
    use crate::sim::SimDuration;

    fn record(at: u64, steps: Vec<Step>) -> StatefulRecord {
        StatefulRecord {
            at: SimTime::from_secs(at),
            name: "db".into(),
            replicas: 4,
            parallel: true,
            rolling: true,
            partition: 2,
            min_ready: SimDuration::from_secs(30),
            update_revision: "db-v2".into(),
            current_revision: "db-v1".into(),
            steps,
            waiting_for: Some(PodState::ReadySince(SimTime::from_secs(95))),
            node_down: None,
        }
    }

    #[test]
    fn parallel_pods_from_both_revisions_and_a_wait_inside_min_ready() {
        // Parallel with partition 2 mid-update: db-0 (below the partition) from the current
        // revision, db-3 from the update one, in one reconcile; then the rolling update
        // waits for db-3, Ready at 95 s but not for minReadySeconds 30 yet at 100 s.
        let mut records = StatefulRecords::default();
        let create = Step::Create {
            update: vec![3],
            current: vec![0],
        };
        let wait = Step::WaitAvailable {
            ordinal: 3,
            pod: PodId(7),
            next: Next::Update(2),
        };
        records.push(crate::cluster::DeploymentId(0), record(90, vec![create]));
        records.push(crate::cluster::DeploymentId(0), record(100, vec![wait]));
        let expected = "StatefulSet db: replicas 4, podManagementPolicy Parallel, updateStrategy RollingUpdate (partition 2), minReadySeconds 30
00:01:30 db-0 and db-3 are created (Parallel: every missing ordinal below replicas 4 at once) from the update revision db-v2; db-0 from the current revision db-v1 (below partition 2)
00:01:40 db-3 is not available (Ready since 00:01:35, not yet for minReadySeconds 30): the rolling update waits for every pod before replacing db-2
";
        assert_eq!(story(&records, &[], "db").unwrap(), expected);
        assert_eq!(story(&records, &[], "web"), None);
    }
}
