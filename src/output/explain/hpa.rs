//! HPA decisions as sentences: what the controller saw, what each step made of it, and why the
//! replica count ended where it did. Pure rendering of [`HpaDecision`] records.

use crate::controllers::hpa::HpaDecision;
use crate::controllers::hpa::behavior::StabilizationReason;
use crate::controllers::hpa::conditions::AbleToScale;
use crate::controllers::hpa::normalize::LimitReason;

/// Which decisions to show.
#[derive(Clone, Copy, Debug)]
pub enum Selection {
    /// Syncs that changed the replicas, where stabilization or a limit altered the outcome, or
    /// where a condition changed (e.g. the metrics became unavailable). A window that keeps
    /// what the limits would have given anyway (1 where `minReplicas` 1 raises a proposal of 0)
    /// does not count.
    Interesting,
    /// Every sync.
    All,
    /// The last sync at or before this many seconds.
    At(f64),
}

/// Decisions of the HPA called `hpa`, filtered by `selection`.
pub fn select<'a>(
    decisions: &'a [HpaDecision],
    hpa: &str,
    selection: Selection,
) -> Vec<&'a HpaDecision> {
    let mut of_hpa = decisions.iter().filter(|d| &*d.hpa == hpa);
    match selection {
        Selection::All => of_hpa.collect(),
        Selection::Interesting => {
            let mut previous: Option<&HpaDecision> = None;
            of_hpa
                .filter(|d| {
                    let keep = worth_telling(previous, d);
                    previous = Some(d);
                    keep
                })
                .collect()
        }
        Selection::At(t) => of_hpa.rfind(|d| d.time_seconds <= t).into_iter().collect(),
    }
}

/// [`Selection::Interesting`]'s decisions of HPA `hpa`, each run of holds told once: a sync that
/// kept the replicas (held by the stabilization window or a limit) and the syncs right after
/// it that kept them the same way (the same replicas, window outcome and limit, no condition
/// change) fold into the first, with how many followed and when the last was.
pub fn folded<'a>(
    decisions: &'a [HpaDecision],
    hpa: &str,
) -> Vec<(&'a HpaDecision, Option<(usize, f64)>)> {
    let chosen = select(decisions, hpa, Selection::Interesting);
    let holds_like = |first: &HpaDecision, d: &HpaDecision| {
        let key = |d: &HpaDecision| {
            let hold = d.desired_replicas == d.current_replicas;
            let outcome = (d.current_replicas, d.stabilized_replicas);
            (hold, outcome, d.stabilization_reason, d.limit_reason)
        };
        first.desired_replicas == first.current_replicas
            && key(first) == key(d)
            && !condition_changed(Some(first), d)
    };
    let mut out = Vec::new();
    let mut rest = chosen.as_slice();
    while let Some((&first, after)) = rest.split_first() {
        let same = after.iter().take_while(|d| holds_like(first, d)).count();
        let fold = after[..same].last().map(|last| (same, last.time_seconds));
        out.push((first, fold));
        rest = &after[same..];
    }
    out
}

/// What [`Selection::Interesting`] keeps: a sync that changed something, or whose conditions
/// differ from the HPA's previous sync.
fn worth_telling(previous: Option<&HpaDecision>, d: &HpaDecision) -> bool {
    is_interesting(d) || condition_changed(previous, d)
}

/// The interesting decisions of every HPA as sentences, collected as a run makes them (for
/// `report.html`); at most `limit` sentences are kept, the rest counted.
#[derive(Debug, Default)]
pub struct Narrator {
    previous: std::collections::BTreeMap<std::sync::Arc<str>, HpaDecision>,
    /// The sentences told so far, in the order the decisions were offered (at most the limit).
    pub sentences: Vec<String>,
    /// Interesting decisions past the limit: counted, not told (report.html says how many).
    pub untold: u64,
    limit: usize,
}

impl Narrator {
    /// A narrator with nothing told yet that keeps at most `limit` sentences (report.html's
    /// limit is [`crate::output::pages::REPORT_SENTENCES`]).
    pub fn new(limit: usize) -> Self {
        Narrator {
            limit,
            ..Narrator::default()
        }
    }

    /// Takes the next decision of some HPA.
    pub fn offer(&mut self, d: HpaDecision) {
        if worth_telling(self.previous.get(&d.hpa), &d) {
            if self.sentences.len() < self.limit {
                self.sentences.push(sentence(&d));
            } else {
                self.untold += 1;
            }
        }
        self.previous.insert(d.hpa.clone(), d);
    }
}

/// Whether the controller's health changed since the previous sync (always true for the
/// first): `AbleToScale` status, or `ScalingActive` status and reason.
fn condition_changed(previous: Option<&HpaDecision>, d: &HpaDecision) -> bool {
    let key = |d: &HpaDecision| {
        d.conditions
            .list()
            .into_iter()
            .filter(|c| c.0 != "ScalingLimited")
            .map(|(kind, status, reason, _)| {
                (
                    kind,
                    status,
                    if kind == "ScalingActive" { reason } else { "" },
                )
            })
            .collect::<Vec<_>>()
    };
    previous.is_none_or(|p| key(p) != key(d))
}

fn is_interesting(d: &HpaDecision) -> bool {
    let limited = d
        .limit_reason
        .is_some_and(|r| r != LimitReason::DesiredWithinRange);
    d.desired_replicas != d.current_replicas || d.stabilization_changed_desired || limited
}

/// One decision as a sentence, e.g. `00:12:15 web: CPU was 87% of request against a 60%
/// utilization target on 4 ready pods → 6; the scale-up rate limit allows at most 6 → scaled 3 → 6.`
pub fn sentence(d: &HpaDecision) -> String {
    let time = super::clock(d.time_seconds);
    format!("{time} {}: {}", d.hpa, body(d))
}

/// A decision's sentence without its time and HPA: `CPU was … → scaled 3 → 6.`
pub fn body(d: &HpaDecision) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(why) = &d.skipped {
        parts.push(format!("no recommendation: {why}"));
    }
    parts.extend(d.metrics.iter().map(metric_clause));
    if let (Some(reason), Some(_)) = (d.stabilization_reason, d.proposed_replicas) {
        parts.push(match reason {
            StabilizationReason::ScaleDownStabilized => format!(
                "the scale-down stabilization window keeps the highest recent recommendation, {}",
                d.stabilized_replicas
            ),
            StabilizationReason::ScaleUpStabilized => format!(
                "the scale-up stabilization window keeps the lowest recent recommendation, {}",
                d.stabilized_replicas
            ),
        });
    }
    if let Some(limit) = limit_clause(d) {
        parts.push(limit);
    }
    let outcome = if matches!(
        d.conditions.able_to_scale,
        AbleToScale::FailedGetScale { .. }
    ) {
        "nothing to scale".to_string()
    } else if d.desired_replicas == d.current_replicas {
        format!("stays at {}", d.current_replicas)
    } else {
        format!("scaled {} → {}", d.current_replicas, d.desired_replicas)
    };
    format!("{} → {outcome}.", parts.join("; "))
}

fn metric_clause(m: &crate::controllers::hpa::MetricOutcome) -> String {
    if let Some(error) = &m.error {
        return format!("{} unavailable ({error})", m.metric);
    }
    let mut pods = format!(
        "{} ready pod{}",
        m.ready_pods,
        if m.ready_pods == 1 { "" } else { "s" }
    );
    for (n, what) in [
        (m.unready_pods, "not ready yet"),
        (m.missing_pods, "without metrics yet"),
        (m.ignored_pods, "terminating"),
    ] {
        if n > 0 {
            pods.push_str(&format!(", {n} {what}"));
        }
    }
    let proposal = m.replicas.map_or(String::new(), |r| format!(" → {r}"));
    match (m.utilization_percent, m.average_value_milli) {
        (Some(u), _) => format!(
            "{} was {u}% of request against a {} target on {pods}{proposal}",
            m.metric, m.target
        ),
        (None, Some(avg)) => format!(
            "{} averaged {} per pod against a target of {} on {pods}{proposal}",
            m.metric,
            m.unit.format(avg),
            m.target
        ),
        (None, None) => match m.value_milli {
            Some(v) => format!(
                "{} was {} against a target of {} with {pods}{proposal}",
                m.metric,
                m.unit.format(v),
                m.target
            ),
            None => format!("{} on {pods}{proposal}", m.metric),
        },
    }
}

fn limit_clause(d: &HpaDecision) -> Option<String> {
    let reason = d.limit_reason?;
    if d.desired_replicas == d.stabilized_replicas && d.skipped.is_none() {
        return None;
    }
    let n = d.desired_replicas;
    Some(match reason {
        LimitReason::DesiredWithinRange => return None,
        LimitReason::ScaleUpLimit => format!("the scale-up rate limit allows at most {n}"),
        LimitReason::ScaleDownLimit => format!("the scale-down rate limit allows at least {n}"),
        LimitReason::TooManyReplicas => format!("maxReplicas caps it at {n}"),
        LimitReason::TooFewReplicas => format!("minReplicas raises it to {n}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::hpa::conditions::Conditions;
    use crate::controllers::hpa::{MetricOutcome, Unit};

    fn decision() -> HpaDecision {
        HpaDecision {
            time_seconds: 735.0,
            hpa: "web".into(),
            current_replicas: 3,
            metrics: vec![MetricOutcome {
                metric: "CPU".into(),
                target: "60% utilization".into(),
                unit: Unit::Cpu,
                replicas: Some(9),
                utilization_percent: Some(174),
                average_value_milli: Some(870),
                value_milli: None,
                ready_pods: 3,
                unready_pods: 0,
                missing_pods: 1,
                ignored_pods: 0,
                error: None,
            }],
            proposed_replicas: Some(9),
            stabilized_replicas: 9,
            stabilization_reason: None,
            stabilization_changed_desired: false,
            desired_replicas: 6,
            limit_reason: Some(LimitReason::ScaleUpLimit),
            skipped: None,
            conditions: Conditions {
                able_to_scale: AbleToScale::SucceededRescale { replicas: 6 },
                scaling_active: None,
                scaling_limited: Some(LimitReason::ScaleUpLimit),
            },
        }
    }

    #[test]
    fn sentences_say_why() {
        assert_eq!(
            sentence(&decision()),
            "00:12:15 web: CPU was 174% of request against a 60% utilization target on 3 ready pods, 1 without metrics yet → 9; the scale-up rate limit allows at most 6 → scaled 3 → 6."
        );
        let mut held = decision();
        (
            held.current_replicas,
            held.proposed_replicas,
            held.stabilized_replicas,
            held.desired_replicas,
        ) = (8, Some(3), 8, 8);
        held.stabilization_reason = Some(StabilizationReason::ScaleDownStabilized);
        held.limit_reason = Some(LimitReason::DesiredWithinRange);
        held.metrics[0].replicas = Some(3);
        assert!(sentence(&held).ends_with("→ 3; the scale-down stabilization window keeps the highest recent recommendation, 8 → stays at 8."), "{}", sentence(&held));
    }

    #[test]
    fn selection() {
        let mut quiet = decision();
        (
            quiet.desired_replicas,
            quiet.limit_reason,
            quiet.time_seconds,
        ) = (3, Some(LimitReason::DesiredWithinRange), 750.0);
        let all = vec![decision(), quiet];
        assert_eq!(select(&all, "web", Selection::Interesting).len(), 1);
        assert_eq!(select(&all, "web", Selection::All).len(), 2);
        assert_eq!(
            select(&all, "web", Selection::At(740.0))[0].time_seconds,
            735.0
        );
        assert!(select(&all, "api", Selection::All).is_empty());
    }

    #[test]
    fn a_window_that_changes_nothing_is_not_told() {
        // The llama HPA of llm-inference between bursts: the queue proposes 0, the scale-down
        // window keeps the highest recent recommendation, 1, and minReplicas 1 would have
        // raised 0 to 1 anyway: the window changed nothing (the controller says so).
        let mut idle = decision();
        (
            idle.current_replicas,
            idle.proposed_replicas,
            idle.stabilized_replicas,
            idle.desired_replicas,
        ) = (1, Some(0), 1, 1);
        idle.stabilization_reason = Some(StabilizationReason::ScaleDownStabilized);
        idle.limit_reason = Some(LimitReason::DesiredWithinRange);
        idle.time_seconds = 742.5;
        let mut held = idle.clone();
        held.time_seconds = 750.0;
        held.stabilization_changed_desired = true;
        let all = vec![decision(), idle, held];
        let told: Vec<f64> = select(&all, "web", Selection::Interesting)
            .iter()
            .map(|d| d.time_seconds)
            .collect();
        assert_eq!(told, [735.0, 750.0]);
    }
}
