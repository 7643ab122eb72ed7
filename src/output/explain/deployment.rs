//! Why did the Deployment controller do that? Each reconcile that changed a ReplicaSet, in a
//! sentence with the rollout arithmetic (`maxSurge 25% of 8 rounds up to 2 …`), interleaved with
//! the Deployment's events (rollout started and completed, progress deadline, scripted
//! `kubectl` actions). The arithmetic is recomputed from the numbers the reconcile read with
//! the controller's own functions ([`crate::controllers::rollout`]).

use std::fmt::Write;

use crate::controllers::deployment::Step;
use crate::controllers::deployment::record::{Change, RolloutRecord, SetSnapshot};
use crate::controllers::rollout::{self, IntOrPercent, ReplicaSetView, ScaleView, Strategy};
use crate::metrics::cluster_events::{ClusterEvent, ClusterEventReason, ObjectKind};
use crate::sim::SimTime;

/// A line of a Deployment's story: its instant, the event's reason (`None`: a reconcile) and
/// its sentence.
pub type Told = (SimTime, Option<ClusterEventReason>, String);

/// Which reconciles to tell.
#[derive(Clone, Copy, Debug)]
pub enum Selection {
    /// Every reconcile but a lone ReplicaSet following the replicas (an HPA's or `kubectl
    /// scale`'s change outside a rollout): those are counted.
    Rollouts,
    /// Every reconcile that changed something.
    All,
    /// The last reconcile at or before this many seconds.
    At(f64),
}

/// The Deployments a run has records or events of, in order of first mention.
pub fn deployment_names<'a>(
    records: &'a [RolloutRecord],
    events: &'a [ClusterEvent],
) -> Vec<&'a str> {
    let mut seen = std::collections::BTreeSet::new();
    let from_events = (events.iter())
        .filter(|e| e.kind == ObjectKind::Deployment)
        .map(|e| e.name.as_str());
    (records.iter().map(|r| r.deployment.as_str()))
        .chain(from_events)
        .filter(|name| seen.insert(*name))
        .collect()
}

/// The story of Deployment `name`: its reconciles (chosen by `selection`) among its events, in
/// the order they happened. The rollout limits are spelled out the first time and again when
/// they change.
pub fn story(
    records: &[RolloutRecord],
    events: &[ClusterEvent],
    name: &str,
    selection: Selection,
) -> String {
    let lone = match selection {
        Selection::All => true,
        Selection::Rollouts => false,
        Selection::At(t) => {
            let mut of_it = records.iter().filter(|r| r.deployment == name);
            let last = of_it.rfind(|r| r.at.as_secs_f64() <= t);
            return last.map_or(String::new(), |r| sentence(r, true) + "\n");
        }
    };
    let (told, untold) = lines(records, events, name, lone);
    let mut text = String::new();
    for (at, _, line) in told {
        let _ = writeln!(text, "{at} {name}: {line}");
    }
    if untold > 0 {
        let _ = writeln!(
            text,
            "(and {untold} reconcile{} that scaled a lone ReplicaSet to follow the replicas, outside a rollout: `--all` tells them, `explain --hpa` why the replicas changed)",
            plural(untold)
        );
    }
    text
}

/// Deployment `name`'s reconciles and events in the order they happened, each as its instant,
/// the event's reason (`None`: a reconcile) and its sentence without the time and name
/// (`Scripted: kubectl apply.`, `… → 6.`); with `lone` false, the reconciles that only scaled a
/// lone ReplicaSet to follow the replicas are left out, and counted.
pub fn lines(
    records: &[RolloutRecord],
    events: &[ClusterEvent],
    name: &str,
    lone: bool,
) -> (Vec<Told>, usize) {
    let (told, untold): (Vec<&RolloutRecord>, Vec<&RolloutRecord>) = (records.iter())
        .filter(|r| r.deployment == name)
        .partition(|r| lone || !is_lone_scaling(r));
    let mut its_events = (events.iter().enumerate())
        .filter(|(_, e)| e.kind == ObjectKind::Deployment && e.name == name)
        .peekable();
    let mut lines = Vec::new();
    let mut limits = None;
    for r in told {
        while let Some((_, e)) = its_events.next_if(|(i, _)| *i < r.events_before) {
            lines.push(event_line(e));
        }
        let these = Some((r.replicas, r.strategy));
        lines.push((r.at, None, body(r, limits != these)));
        if matches!(r.step, Step::ScaleUpNew | Step::ScaleDownOld) {
            limits = these;
        }
    }
    lines.extend(its_events.map(|(_, e)| event_line(e)));
    (lines, untold.len())
}

/// A reconcile that only moved the Deployment's one active ReplicaSet to its replicas.
fn is_lone_scaling(r: &RolloutRecord) -> bool {
    r.step == Step::Proportional && !r.paused && active(r).count() <= 1
}

fn active(r: &RolloutRecord) -> impl Iterator<Item = &SetSnapshot> {
    r.sets.iter().filter(|s| s.spec > 0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn event_line(e: &ClusterEvent) -> Told {
    let line = format!("{:?}: {}.", e.reason, e.message);
    (super::clock(e.t_seconds), Some(e.reason), line)
}

/// One reconcile as a sentence; `with_limits`: how maxSurge and maxUnavailable resolve is
/// spelled out (else only the limits they give).
pub fn sentence(r: &RolloutRecord, with_limits: bool) -> String {
    format!("{} {}: {}", r.at, r.deployment, body(r, with_limits))
}

/// A reconcile's sentence without its time and Deployment.
fn body(r: &RolloutRecord, with_limits: bool) -> String {
    let body = match r.step {
        Step::Revision => revision(r),
        Step::Proportional => proportional(r),
        Step::Saturated => saturated(r),
        Step::CreateNew => create_new(r),
        Step::ScaleUpNew => scale_up_new(r, with_limits),
        Step::ScaleDownOld => scale_down_old(r, with_limits),
        Step::RecreateScaleDown => format!(
            "Recreate removes every old pod before making new ones: {}",
            scalings(r)
        ),
        Step::RecreateScaleUp => format!(
            "Recreate: no old pod is left, so the new ReplicaSet is scaled up: {}",
            scalings(r)
        ),
        Step::Settled => cleanup(r),
    };
    format!("{body}.")
}

/// The scalings a record asked for: `web-5d8 8 → 6, web-7c4 2 → 4`.
fn scalings(r: &RolloutRecord) -> String {
    let parts: Vec<String> = (r.changes.iter())
        .filter_map(|c| match *c {
            Change::Scale { set, to } => {
                let s = &r.sets[set];
                Some(format!("{} {} → {to}", s.name, s.spec))
            }
            _ => None,
        })
        .collect();
    parts.join(", ")
}

/// `maxSurge 25% of 8 rounds up to 2 and maxUnavailable 25% of 8 rounds down to 2, so up to
/// 10 pods and at least 6 available`; without `spelled`, `up to 10 pods and at least 6
/// available`.
fn fenceposts(r: &RolloutRecord, spelled: bool) -> String {
    let replicas = r.replicas;
    let limits = format!(
        "up to {} pods and at least {} available",
        replicas + r.strategy.max_surge(replicas),
        r.strategy.min_available(replicas)
    );
    let Strategy::RollingUpdate {
        max_surge,
        max_unavailable,
    } = r.strategy
    else {
        return limits;
    };
    if !spelled {
        return limits;
    }
    let surge = r.strategy.max_surge(replicas);
    let unavailable = r.strategy.max_unavailable(replicas);
    let describe = |name: &str, v: IntOrPercent, resolved: i32, up: bool| match v {
        IntOrPercent::Percent(p) => {
            let way = if up { "up" } else { "down" };
            let resolved = v.scaled(replicas, up);
            format!("{name} {p}% of {replicas} rounds {way} to {resolved}")
        }
        IntOrPercent::Int(_) => format!("{name} {resolved}"),
    };
    let mut text = format!(
        "{} and {}",
        describe("maxSurge", max_surge, surge, true),
        describe("maxUnavailable", max_unavailable, unavailable, false)
    );
    if max_surge.scaled(replicas, true) == 0 && max_unavailable.scaled(replicas, false) == 0 {
        text.push_str(" (both 0: maxUnavailable becomes 1, so the rollout can move)");
    }
    let _ = write!(text, ", so {limits}");
    text
}

fn view(s: &SetSnapshot) -> ReplicaSetView {
    ReplicaSetView {
        spec: s.spec,
        available: s.available,
    }
}

/// `web-5d8 8 + web-7c4 0`.
fn spec_sum(sets: &[SetSnapshot]) -> String {
    let parts: Vec<String> = sets
        .iter()
        .map(|s| format!("{} {}", s.name, s.spec))
        .collect();
    parts.join(" + ")
}

fn scale_up_new(r: &RolloutRecord, with_limits: bool) -> String {
    let Some(new) = r.new_set() else {
        return scalings(r);
    };
    if new.spec > r.replicas {
        return format!(
            "the new ReplicaSet asks for more than the {} replicas: {}",
            r.replicas,
            scalings(r)
        );
    }
    let max_total = r.replicas + r.strategy.max_surge(r.replicas);
    let current: i32 = r.sets.iter().map(|s| s.spec).sum();
    let mut text = format!(
        "{}; the ReplicaSets ask for {current} ({}), {} fewer than the {max_total} allowed: the new ReplicaSet {}",
        fenceposts(r, with_limits),
        spec_sum(&r.sets),
        max_total - current,
        scalings(r)
    );
    let still: i32 = active(r).filter(|s| !s.is_new).map(|s| s.spec).sum();
    if still > 0 {
        let _ = write!(
            text,
            "; the old keep {still} until new pods are available ({} so far)",
            new.available
        );
    }
    text
}

fn scale_down_old(r: &RolloutRecord, with_limits: bool) -> String {
    let (old, new) = (r.old_sets(), r.new_set());
    let new_view = new.map(view).unwrap_or_default();
    let all_pods: i32 = old.iter().map(|s| s.spec).sum::<i32>() + new_view.spec;
    let min_available = r.strategy.min_available(r.replicas);
    let new_unavailable = new_view.spec - new_view.available;
    let max_down = all_pods - min_available - new_unavailable;
    let old_views: Vec<ReplicaSetView> = old.iter().map(view).collect();
    let (_, cleaned) = rollout::cleanup_unhealthy_replicas(&old_views, max_down);
    let available: i32 = old.iter().map(|s| s.available).sum::<i32>() + new_view.available;
    let mut text = format!(
        "{}; of {all_pods} pods asked for, {min_available} must stay available and the new ReplicaSet's {new_unavailable} unavailable do not count, so at most {all_pods} − {min_available} − {new_unavailable} = {max_down} may go",
        fenceposts(r, with_limits)
    );
    if cleaned > 0 {
        let _ = write!(
            text,
            "; {cleaned} unavailable old replica{} go first",
            plural(cleaned as usize)
        );
    }
    if available > min_available {
        let _ = write!(
            text,
            "; {available} are available, {} more than the minimum",
            available - min_available
        );
    }
    let _ = write!(text, ": {}", scalings(r));
    text
}

fn proportional(r: &RolloutRecord) -> String {
    let sets: Vec<&SetSnapshot> = active(r).collect();
    let paused = if r.paused { " (paused)" } else { "" };
    let before = sets.iter().map(|s| s.desired_annotation).max().unwrap_or(0);
    if sets.len() <= 1 {
        let only = if sets.is_empty() {
            "no ReplicaSet is active, so the newest"
        } else {
            "its only active ReplicaSet"
        };
        return format!(
            "replicas {before} → {}{paused}; {only} follows: {}",
            r.replicas,
            scalings(r)
        );
    }
    let allowed = if r.replicas > 0 {
        r.replicas + r.strategy.max_surge(r.replicas)
    } else {
        0
    };
    let current: i32 = sets.iter().map(|s| s.spec).sum();
    let status_replicas: i32 = sets.iter().map(|s| s.pods).sum();
    let shares: Vec<String> = sets
        .iter()
        .map(|s| {
            let scale_view = ScaleView {
                spec: s.spec,
                max_annotation: s.max_annotation,
                age_rank: 0,
            };
            let share =
                rollout::replica_set_fraction(r.strategy, r.replicas, status_replicas, scale_view);
            let was = if s.max_annotation != 0 {
                s.max_annotation
            } else {
                status_replicas
            };
            format!("{}: {} × {allowed} / {was} → {share:+}", s.name, s.spec)
        })
        .collect();
    format!(
        "replicas {before} → {} mid-rollout{paused}: {} + maxSurge {} = {allowed} allowed and {current} asked for, so {:+} shared in proportion to each ReplicaSet's size ({}; rounding's leftover to the largest): {}",
        r.replicas,
        r.replicas,
        allowed - r.replicas,
        allowed - current,
        shares.join(", "),
        scalings(r)
    )
}

fn saturated(r: &RolloutRecord) -> String {
    let name = r.new_set().map_or("?", |s| s.name.as_str());
    format!(
        "the new ReplicaSet {name} has all {} replicas available, so the old ones are no longer needed: {}",
        r.replicas,
        scalings(r)
    )
}

fn create_new(r: &RolloutRecord) -> String {
    if r.sets.is_empty() {
        return "no ReplicaSet yet: the first is created from the pod template (revision 1)".into();
    }
    let next = r.sets.iter().map(|s| s.revision).max().unwrap_or(0) + 1;
    format!(
        "no ReplicaSet has the new pod template: one is created (revision {next}); the old {} {}",
        spec_sum(r.old_sets()),
        if r.old_sets().len() == 1 {
            "stays"
        } else {
            "stay"
        }
    )
}

fn revision(r: &RolloutRecord) -> String {
    let Some(Change::Revision { set, to }) = r.changes.first() else {
        return String::new();
    };
    let s = &r.sets[*set];
    format!(
        "rolled back: ReplicaSet {} has the pod template again, so it takes revision {to} (it was {})",
        s.name, s.revision
    )
}

fn cleanup(r: &RolloutRecord) -> String {
    let deleted: Vec<String> = (r.changes.iter())
        .filter_map(|c| match *c {
            Change::Delete { set } => {
                let s = &r.sets[set];
                Some(format!("{} (revision {})", s.name, s.revision))
            }
            _ => None,
        })
        .collect();
    format!(
        "the rollout is complete and revisionHistoryLimit {} keeps that many old ReplicaSets ({} now): deletes {}",
        r.history_limit,
        r.old_sets().len(),
        deleted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimDuration, SimTime};

    fn set(name: &str, revision: u64, is_new: bool, spec: i32, available: i32) -> SetSnapshot {
        SetSnapshot {
            name: name.into(),
            revision,
            is_new,
            spec,
            pods: spec,
            available,
            desired_annotation: 8,
            max_annotation: 10,
        }
    }

    fn record(step: Step, sets: Vec<SetSnapshot>, changes: Vec<Change>) -> RolloutRecord {
        RolloutRecord {
            at: SimTime::from_secs(600),
            deployment: "web".into(),
            step,
            replicas: 8,
            strategy: Strategy::default(),
            paused: false,
            min_ready: SimDuration::ZERO,
            history_limit: 10,
            sets,
            changes,
            events_before: 0,
        }
    }

    #[test]
    fn the_first_surge_of_a_rollout() {
        // 8 replicas, 25 % / 25 %: surge ⌈2⌉ = 2, unavailable ⌊2⌋ = 2; at most 10 pods, at
        // least 8 − 2 = 6 available. The old ReplicaSet asks for 8: 2 below 10, and the new
        // may grow min(10 − 8, 8 − 0) = 2.
        let r = record(
            Step::ScaleUpNew,
            vec![set("web-1", 1, false, 8, 8), set("web-2", 2, true, 0, 0)],
            vec![Change::Scale { set: 1, to: 2 }],
        );
        assert_eq!(
            sentence(&r, true),
            "00:10:00 web: maxSurge 25% of 8 rounds up to 2 and maxUnavailable 25% of 8 rounds down to 2, so up to 10 pods and at least 6 available; the ReplicaSets ask for 8 (web-1 8 + web-2 0), 2 fewer than the 10 allowed: the new ReplicaSet web-2 0 → 2; the old keep 8 until new pods are available (0 so far)."
        );
        assert!(sentence(&r, false).starts_with(
            "00:10:00 web: up to 10 pods and at least 6 available; the ReplicaSets ask for 8"
        ));
    }

    #[test]
    fn old_pods_go_as_far_as_availability_allows() {
        // 10 pods asked for (8 old + 2 new), 2 new unavailable (0 of 2 ready yet): at most
        // 10 − 6 − 2 = 2 may go. Old: 3 unavailable of 8; cleanup takes 2 of them first. 5 + 0
        // available, below the minimum of 6: nothing more.
        let r = record(
            Step::ScaleDownOld,
            vec![set("web-1", 1, false, 8, 5), set("web-2", 2, true, 2, 0)],
            vec![Change::Scale { set: 0, to: 6 }],
        );
        assert_eq!(
            sentence(&r, false),
            "00:10:00 web: up to 10 pods and at least 6 available; of 10 pods asked for, 6 must stay available and the new ReplicaSet's 2 unavailable do not count, so at most 10 − 6 − 2 = 2 may go; 2 unavailable old replicas go first: web-1 8 → 6."
        );
    }

    #[test]
    fn both_fenceposts_zero_make_one_unavailable() {
        let mut r = record(
            Step::ScaleDownOld,
            vec![set("web-1", 1, false, 8, 8), set("web-2", 2, true, 0, 0)],
            vec![Change::Scale { set: 0, to: 7 }],
        );
        r.strategy = Strategy::RollingUpdate {
            max_surge: IntOrPercent::Int(0),
            max_unavailable: IntOrPercent::Percent(10),
        };
        // 10 % of 8 = 0.8 rounds down to 0: both 0, so 1 may be unavailable; 8 − 1 = 7.
        assert!(sentence(&r, true).contains(
            "maxSurge 0 and maxUnavailable 10% of 8 rounds down to 0 (both 0: maxUnavailable becomes 1, so the rollout can move), so up to 8 pods and at least 7 available; of 8 pods asked for, 7 must stay available and the new ReplicaSet's 0 unavailable do not count, so at most 8 − 7 − 0 = 1 may go; 8 are available, 1 more than the minimum: web-1 8 → 7."
        ), "{}", sentence(&r, true));
    }

    #[test]
    fn a_lone_replica_set_follows_the_replicas() {
        let mut r = record(
            Step::Proportional,
            vec![set("web-1", 1, true, 8, 8)],
            vec![Change::Scale { set: 0, to: 12 }],
        );
        r.replicas = 12;
        assert_eq!(
            sentence(&r, true),
            "00:10:00 web: replicas 8 → 12; its only active ReplicaSet follows: web-1 8 → 12."
        );
        assert!(is_lone_scaling(&r));
        r.paused = true;
        assert!(
            !is_lone_scaling(&r),
            "a paused Deployment's scaling is told"
        );
    }

    #[test]
    fn the_story_interleaves_events_and_counts_lone_scalings() {
        let lone = {
            let mut r = record(
                Step::Proportional,
                vec![set("web-1", 1, true, 8, 8)],
                vec![Change::Scale { set: 0, to: 12 }],
            );
            r.at = SimTime::from_secs(60);
            r
        };
        let create = {
            let mut r = record(
                Step::CreateNew,
                vec![set("web-1", 1, false, 8, 8)],
                vec![Change::Create],
            );
            r.events_before = 1;
            r
        };
        let event = |t: f64, name: &str, message: &str| ClusterEvent {
            t_seconds: t,
            kind: ObjectKind::Deployment,
            name: name.into(),
            reason: crate::metrics::cluster_events::ClusterEventReason::Scripted,
            message: message.into(),
        };
        let events = [
            event(600.0, "web", "kubectl apply"),
            event(600.0, "other", "kubectl apply"),
            event(600.0, "web", "later"),
        ];
        let text = story(&[lone, create], &events, "web", Selection::Rollouts);
        assert_eq!(
            text,
            "00:10:00 web: Scripted: kubectl apply.\n\
             00:10:00 web: no ReplicaSet has the new pod template: one is created (revision 2); the old web-1 8 stays.\n\
             00:10:00 web: Scripted: later.\n\
             (and 1 reconcile that scaled a lone ReplicaSet to follow the replicas, outside a rollout: `--all` tells them, `explain --hpa` why the replicas changed)\n"
        );
    }
}
