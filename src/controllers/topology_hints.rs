//! The EndpointSlice controller's topology hints (`service.kubernetes.io/topology-mode: Auto`):
//! which zone each ready endpoint serves, so that each zone gets endpoints in proportion to its
//! Ready nodes' allocatable CPU, without overloading any endpoint by more than 20 %. As upstream
//! (k8s.io/endpointslice/topologycache, `AddHints` and `getAllocations`):
//!
//! - no hints unless the Ready nodes (control-plane nodes left out) all have a zone and CPU and
//!   span at least two zones, and there are at least as many endpoints as zones;
//! - each zone's share is `desired = ratio × endpoints`, its `minimum = ⌈desired / 1.2⌉`; no
//!   hints when the minimums add up to more than the endpoints;
//! - every endpoint starts hinted to its own zone; zones with more than `desired` give
//!   endpoints to zones with fewer — the zone with most to give to the one with most to
//!   receive, one at a time, while both have at least half an endpoint and one a whole one;
//! - givers' endpoints are rehinted in endpoint order, each to the first receiving zone.
//!
//! Upstream walks Go maps, so its ties fall at random; here they fall to the first zone in
//! the pools' order. Upstream keeps valid hints between syncs; here they are worked out anew
//! whenever the endpoints or the Ready nodes change (a fresh controller would find the same).

impl NoHints {
    /// Why, in a sentence (upstream says it in a `TopologyAwareHintsDisabled` event).
    pub fn reason(self) -> &'static str {
        match self {
            NoHints::InsufficientNodeInfo => {
                "a Ready node has no zone or no allocatable CPU, or there is no Ready node"
            }
            NoHints::OneZone => "the Ready nodes are all in one zone",
            NoHints::TooFewEndpoints => "fewer ready endpoints than zones",
            NoHints::MinimumsExceedEndpoints => {
                "giving every zone its minimum share of endpoints (its CPU share / 1.2) takes more endpoints than there are"
            }
            NoHints::EndpointWithoutZone => "an endpoint's node has no zone",
        }
    }
}

/// The most an endpoint may be overloaded (`overloadThreshold`).
const OVERLOAD: f64 = 0.2;

/// Why a Service's endpoints carry no hints (upstream's `TopologyAwareHintsDisabled` events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoHints {
    /// A Ready node without a zone or CPU, or none at all.
    InsufficientNodeInfo,
    /// Ready nodes in one zone only.
    OneZone,
    /// Fewer endpoints than zones.
    TooFewEndpoints,
    /// The zones' minimums add up to more endpoints than there are.
    MinimumsExceedEndpoints,
    /// An endpoint whose node has no zone.
    EndpointWithoutZone,
}

/// Each endpoint's hinted zone (by index into `cpu_by_zone`), for endpoints in `endpoint_zones`
/// (each its node's zone). `cpu_by_zone`: the Ready nodes' allocatable millicores per zone, or
/// `None` when some Ready node has no zone or no CPU.
pub fn allocate(
    cpu_by_zone: Option<&[u64]>,
    endpoint_zones: &[Option<usize>],
) -> Result<Vec<usize>, NoHints> {
    let cpu = cpu_by_zone.ok_or(NoHints::InsufficientNodeInfo)?;
    let total: u64 = cpu.iter().sum();
    if total == 0 {
        return Err(NoHints::InsufficientNodeInfo);
    }
    let zones: Vec<usize> = (0..cpu.len()).filter(|&z| cpu[z] > 0).collect();
    if zones.len() < 2 {
        return Err(NoHints::OneZone);
    }
    let n = endpoint_zones.len();
    if zones.len() > n {
        return Err(NoHints::TooFewEndpoints);
    }
    let mut desired = vec![0.0; cpu.len()];
    let mut minimums = 0;
    for &z in &zones {
        let share = cpu[z] as f64 / total as f64 * n as f64;
        let minimum = (share / (1.0 + OVERLOAD)).ceil() as usize;
        desired[z] = share.max(minimum as f64);
        minimums += minimum;
    }
    if minimums > n {
        return Err(NoHints::MinimumsExceedEndpoints);
    }
    let mut hints = Vec::with_capacity(n);
    for zone in endpoint_zones {
        hints.push(zone.ok_or(NoHints::EndpointWithoutZone)?);
    }
    let mut allocated = vec![0usize; cpu.len()];
    hints.iter().for_each(|&z| allocated[z] += 1);
    let (mut giving, mut receiving) = giving_and_receiving(&zones, &desired, &allocated);
    for hint in hints.iter_mut() {
        if giving[*hint] == 0 {
            continue;
        }
        let Some(to) = receiving.iter().position(|&r| r > 0) else {
            break;
        };
        giving[*hint] -= 1;
        receiving[to] -= 1;
        *hint = to;
    }
    Ok(hints)
}

/// How many endpoints each zone gives away and receives (upstream's
/// `getGivingAndReceivingZones`): whole endpoints moved, one at a time, from the zone furthest
/// above its desired share to the one furthest below.
fn giving_and_receiving(
    zones: &[usize],
    desired: &[f64],
    allocated: &[usize],
) -> (Vec<usize>, Vec<usize>) {
    let mut surplus = vec![0.0; desired.len()];
    let mut deficit = vec![0.0; desired.len()];
    for &z in zones {
        let diff = allocated[z] as f64 - desired[z];
        if diff > 0.0 {
            surplus[z] = diff;
        } else {
            deficit[z] = -diff;
        }
    }
    let mut giving = vec![0; desired.len()];
    let mut receiving = vec![0; desired.len()];
    loop {
        let (from, give) = most(&surplus);
        let (to, take) = most(&deficit);
        if give < 0.5 || take < 0.5 || (give < 1.0 && take < 1.0) {
            break;
        }
        giving[from] += 1;
        surplus[from] -= 1.0;
        receiving[to] += 1;
        deficit[to] -= 1.0;
    }
    (giving, receiving)
}

/// The zone with the largest value (the first on a tie), and the value (0 when none is positive).
fn most(values: &[f64]) -> (usize, f64) {
    let mut best = (0, 0.0);
    for (z, &v) in values.iter().enumerate() {
        if v > best.1 {
            best = (z, v);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU per zone from upstream's ratios (×1000 millicores).
    fn cpu(ratios: &[f64]) -> Vec<u64> {
        ratios.iter().map(|r| (r * 1000.0).round() as u64).collect()
    }

    fn count(hints: &[usize], zones: usize) -> Vec<usize> {
        let mut out = vec![0; zones];
        hints.iter().for_each(|&z| out[z] += 1);
        out
    }

    #[test]
    fn upstream_add_hints_cases() {
        let (a, b, c) = (Some(0), Some(1), Some(2));
        // "empty" / "no zone ratios": no node information.
        assert_eq!(allocate(None, &[a]), Err(NoHints::InsufficientNodeInfo));
        // "2 endpoints, zone ratios require 3": 3 zones > 2 endpoints.
        assert_eq!(
            allocate(Some(&cpu(&[0.3, 0.4, 0.3])), &[a, b]),
            Err(NoHints::TooFewEndpoints)
        );
        // "2 endpoints, zone ratios only require 2": desired 0.9 and 1.1, minimums
        // ⌈0.9/1.2⌉ = 1 and ⌈1.1/1.2⌉ = 1; each keeps its own zone.
        assert_eq!(allocate(Some(&cpu(&[0.45, 0.55])), &[a, b]), Ok(vec![0, 1]));
        // "within 3 zone threshold": 10 endpoints in zones a,b,c,c,a,a,a,b,c,a (a 5, b 2,
        // c 3); desired 3.5, 3.5, 3.0. a has 1.5 too many, b 1.5 too few: one endpoint moves
        // (then 0.5 and 0.5 are left, under a whole one), the first of a's: the first endpoint.
        // Upstream: a 4, b 3, c 3, and 10.1.2.3 (the first) hinted to zone-b.
        let zones = [a, b, c, c, a, a, a, b, c, a];
        let hints = allocate(Some(&cpu(&[0.35, 0.35, 0.30])), &zones).unwrap();
        assert_eq!(count(&hints, 3), [4, 3, 3]);
        assert_eq!(hints[0], 1);
        assert_eq!(&hints[1..], &[1, 2, 2, 0, 0, 0, 1, 2, 0]);
    }

    #[test]
    fn minimums_above_the_endpoints_disable_hints() {
        // 3 endpoints over zones of 0.5/0.25/0.25 of the CPU: minimums ⌈1.5/1.2⌉ = 2,
        // ⌈0.75/1.2⌉ = 1, 1 → 4 > 3.
        let z = [Some(0), Some(1), Some(2)];
        assert_eq!(
            allocate(Some(&[2000, 1000, 1000]), &z),
            Err(NoHints::MinimumsExceedEndpoints)
        );
        // One zone with CPU (the other's nodes are not Ready): no hints.
        assert_eq!(
            allocate(Some(&[2000, 0]), &[Some(0), Some(1)]),
            Err(NoHints::OneZone)
        );
        assert_eq!(
            allocate(Some(&[1000, 1000]), &[Some(0), None]),
            Err(NoHints::EndpointWithoutZone)
        );
    }

    #[test]
    fn a_zone_with_all_the_endpoints_shares_them_by_cpu() {
        // 6 endpoints all in zone a; zones a, b, c with equal CPU: desired 2 each, a gives 2
        // to b (first on the tie) and 2 to c, the first four endpoints rehinted in order.
        let hints = allocate(Some(&[4000, 4000, 4000]), &[Some(0); 6]).unwrap();
        assert_eq!(hints, [1, 1, 2, 2, 0, 0]);
    }
}
