//! A node's CPU shared by the pods on it, as the Linux CFS shares it under Kubernetes.
//!
//! Each serving pod on a node is a *member* with
//! - a **weight**, its cgroup's CPU shares: the kubelet gives a pod `request millicores × 1024 /
//!   1000` shares (at least 2, the kernel's minimum, which is also what a pod without a CPU
//!   request gets; at most 262 144);
//! - a **cap**, the most it can use alone: a core per request slot, or the node's allocatable
//!   CPU if that is less (a CPU limit is not a cap: it is a quota per period, [`super::cfs`],
//!   and a throttled pod's demand drops to nothing until its period ends); and
//! - a **demand**, what it would use now: one core per request in service, up to its cap.
//!
//! While the members' demands fit in the node's allocatable CPU, every member runs at its demand
//! and nothing here does any work per request but keep the sum. When they do not, the CPU is
//! divided by weight, work-conserving (weighted max-min fairness, "water-filling"): a member
//! gets `min(demand, θ × weight)` with the level `θ` set so that the allocations add up to the
//! allocatable CPU, so what a capped or idle member leaves goes to the others. An idle member
//! (demand 0) always settles at its demand, so a division looks only at the members that want
//! CPU and at those just gone idle (which get their cap back); the rest keep what they have.
//!
//! Approximations, stated: the pods' cgroups are treated as siblings with their own weights
//! (the real hierarchy groups Burstable and BestEffort pods under QoS cgroups whose weights are
//! the sums of their pods', which gives the same division except that all BestEffort pods share
//! one minimum weight between them); CPU outside `allocatable` (system- and kube-reserved) is
//! never available to pods; the division is the long-run share of the scheduler; and a request
//! uses at most one core.
//!
//! This module decides shares only; the engine applies them to the pod servers.

use crate::cluster::{NodeId, PodId};

/// The kernel's minimum CPU shares (`MinShares`), also a pod's without a CPU request.
pub const MIN_SHARES: u64 = 2;
/// The kernel's maximum CPU shares (`MaxShares`).
pub const MAX_SHARES: u64 = 262_144;

/// A pod's CPU shares from its CPU request (`MilliCPUToShares`).
pub fn shares_for_request(request_millis: i64) -> u64 {
    let request = u64::try_from(request_millis).unwrap_or(0);
    (request.saturating_mul(1024) / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// One serving pod on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub pod: PodId,
    pub weight: u64,
    pub cap_millis: u64,
    pub demand_millis: u64,
    /// The capacity its server was last given (its cap when it joins): only a change is passed
    /// on, so the servers of pods whose share stays put are not touched.
    pub granted_millis: u64,
}

/// Divides `capacity` millicores among `members` by weight, work-conserving: each gets
/// `min(demand, θ × weight)`. Writes one allocation per member, in order, into `out`.
///
/// Members whose demand fits their share of what is left are settled with their demand, which
/// can only raise everyone else's share; passes repeat until none more fits, and the rest split
/// what is left by weight. Settling members in any order reaches the same set as settling them in
/// order of demand per weight (a member that fits at one point fits at every later one, and one
/// that does not fit once all that fit are settled never fits), so no sort is needed: a node's
/// pods settle in one to three passes.
pub fn water_fill(capacity: u64, members: &[Member], out: &mut Vec<u64>) {
    const UNSETTLED: u64 = u64::MAX;
    out.clear();
    out.resize(members.len(), UNSETTLED);
    let mut left = capacity;
    let mut weight_left: u64 = members.iter().map(|m| m.weight).sum();
    loop {
        let (mut taken, mut weight_settled) = (0, 0);
        let mut settled_any = false;
        for (share, m) in out.iter_mut().zip(members) {
            if *share == UNSETTLED && fits(m, left, weight_left) {
                *share = m.demand_millis;
                taken += m.demand_millis;
                weight_settled += m.weight;
                settled_any = true;
            }
        }
        if !settled_any {
            break;
        }
        left -= taken;
        weight_left -= weight_settled;
    }
    // Pods of one size have one weight: their shares are one division.
    let mut last = (0, 0);
    for (share, m) in out.iter_mut().zip(members) {
        if *share == UNSETTLED {
            if m.weight != last.0 {
                last = (m.weight, share_of(left, m.weight, weight_left));
            }
            *share = last.1;
        }
    }
}

/// Whether the member's demand is within its share of `left`: `demand ≤ ⌊left × weight /
/// total⌋`, which for a whole demand is `demand × total ≤ left × weight` (no division).
fn fits(m: &Member, left: u64, total: u64) -> bool {
    u128::from(m.demand_millis) * u128::from(total) <= u128::from(left) * u128::from(m.weight)
}

/// `left × weight / total`, rounded down (a few millicores may stay unused).
fn share_of(left: u64, weight: u64, total: u64) -> u64 {
    if total == 0 {
        return 0;
    }
    match left.checked_mul(weight) {
        Some(product) => product / total, // the usual case, without a 128-bit division
        None => (u128::from(left) * u128::from(weight) / u128::from(total)) as u64,
    }
}

/// One node's CPU and the serving pods on it.
#[derive(Clone, Debug, Default)]
pub struct NodeCpu {
    pub allocatable_millis: u64,
    /// The serving pods (a departing pod's place goes to the last one).
    pub members: Vec<Member>,
    /// Sum of the members' demands.
    demand_millis: u64,
    /// Sum of the members' caps: while it fits in the node, the node is never contended.
    cap_millis: u64,
    /// Members or demands changed since the shares were last divided (`capacities`), so the
    /// members' `granted_millis` may not be the current division.
    stale: bool,
    /// The members that want CPU (demand above 0). An idle member always settles at its
    /// demand, so a division need only look at these (a node's pods are mostly idle between
    /// requests).
    active: MemberSet,
    /// The idle members whose granted CPU is not yet their cap (they went idle while held below
    /// their demand): the next division gives them their cap back. Every other idle member has
    /// been granted its cap. Never an active member.
    released: MemberSet,
}

/// A set of a node's member indices, walked in ascending order: a bit per member, the first 64
/// in the set itself, the rest in words beside it. Adding, removing and testing a member take
/// constant time (a pod going busy or idle is most requests on a node, and a sorted list paid a
/// search and a move for each).
#[derive(Clone, Debug, Default)]
struct MemberSet {
    low: u64,
    high: Vec<u64>,
}

impl MemberSet {
    /// The word holding member `i`'s bit (grown when `grow`; `None` when absent and not grown).
    fn word(&mut self, i: u32, grow: bool) -> Option<&mut u64> {
        let w = (i / 64) as usize;
        if w == 0 {
            return Some(&mut self.low);
        }
        if grow && self.high.len() < w {
            self.high.resize(w, 0);
        }
        self.high.get_mut(w - 1)
    }

    fn insert(&mut self, i: u32) {
        if let Some(word) = self.word(i, true) {
            *word |= 1 << (i % 64);
        }
    }

    fn remove(&mut self, i: u32) {
        if let Some(word) = self.word(i, false) {
            *word &= !(1 << (i % 64));
        }
    }

    fn contains(&self, i: u32) -> bool {
        let w = (i / 64) as usize;
        let word = if w == 0 {
            Some(&self.low)
        } else {
            self.high.get(w - 1)
        };
        word.is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    fn clear(&mut self) {
        self.low = 0;
        // Nearly every node has fewer than 64 members: no call to `memset` for an empty slice.
        if !self.high.is_empty() {
            self.high.fill(0);
        }
    }

    /// The `w`-th word (0 past the end).
    fn word_at(&self, w: usize) -> u64 {
        match w {
            0 => self.low,
            _ => self.high.get(w - 1).copied().unwrap_or(0),
        }
    }

    /// How many words hold bits.
    fn words(&self) -> usize {
        1 + self.high.len()
    }

    /// The members, ascending.
    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.words()).flat_map(|w| bits(self.word_at(w)).map(move |b| (w * 64) as u32 + b))
    }
}

/// The set bits of `word`, ascending.
fn bits(mut word: u64) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        let b = word.trailing_zeros();
        word &= word.wrapping_sub(1);
        (b < 64).then_some(b)
    })
}

impl NodeCpu {
    /// More is wanted than the node has: shares must be divided.
    pub fn is_contended(&self) -> bool {
        self.demand_millis > self.allocatable_millis
    }

    /// The members could want more than the node has (their caps do not fit).
    pub fn may_contend(&self) -> bool {
        self.cap_millis > self.allocatable_millis
    }

    /// Adds a member at the end; returns its index.
    fn join(&mut self, member: Member) -> usize {
        self.demand_millis += member.demand_millis;
        self.cap_millis += member.cap_millis;
        self.stale = true;
        self.members.push(member);
        let i = self.members.len() - 1;
        if member.demand_millis > 0 {
            self.active.insert(i as u32);
        } else if member.granted_millis != member.cap_millis {
            self.released.insert(i as u32);
        }
        i
    }

    /// Removes member `i` (the last member takes its index).
    fn leave(&mut self, i: usize) -> Member {
        self.demand_millis -= self.members[i].demand_millis;
        self.cap_millis -= self.members[i].cap_millis;
        self.stale = true;
        let last = (self.members.len() - 1) as u32;
        for set in [&mut self.active, &mut self.released] {
            set.remove(i as u32);
            if set.contains(last) {
                set.remove(last);
                set.insert(i as u32);
            }
        }
        self.members.swap_remove(i)
    }

    /// Keeps `active` and `released` in step with member `i`'s demand going from `old` to
    /// `new`.
    fn note_activity(&mut self, i: usize, old: u64, new: u64) {
        let key = i as u32;
        if old == 0 && new > 0 {
            self.active.insert(key);
            self.released.remove(key);
        } else if old > 0 && new == 0 {
            self.active.remove(key);
            let m = &self.members[i];
            if m.granted_millis != m.cap_millis {
                self.released.insert(key);
            }
        }
    }

    /// Sets member `i`'s demand; true when the shares must be divided again: the node is or was
    /// contended, unless the division cannot change.
    ///
    /// It cannot when the node stays contended and the member is held below its demand both
    /// before and after (`granted < old demand` and `granted < new demand`, with `granted` the
    /// current division). Such a member is never settled at its demand: settling only raises the
    /// share of those left, and its share at the end of the old division, `⌊left × weight /
    /// total⌋`, is below the new demand too, so the new division settles the same members with
    /// the same demands and ends with the same shares. On a busy node this is most arrivals and
    /// completions: a pod short of CPU gains or loses a request and nobody's share moves.
    #[inline]
    fn set_demand(&mut self, i: usize, demand_millis: u64) -> bool {
        let m = &mut self.members[i];
        if m.demand_millis == demand_millis {
            return false;
        }
        let held_below = |demand| m.granted_millis < demand;
        let still_held = !self.stale && held_below(m.demand_millis) && held_below(demand_millis);
        let was = self.demand_millis > self.allocatable_millis;
        let old = m.demand_millis;
        self.demand_millis = self.demand_millis - old + demand_millis;
        m.demand_millis = demand_millis;
        if (old == 0) != (demand_millis == 0) {
            self.note_activity(i, old, demand_millis);
        }
        if still_held && self.is_contended() {
            return false;
        }
        let divide = was || self.is_contended();
        self.stale |= divide;
        divide
    }

    /// [`NodeCpu::capacities`] of the members that may have changed — the active and the
    /// released — as `(index, capacity)` in member order, written into `out` (`scratch` is
    /// working space). Every other member is idle and keeps the cap it was granted.
    fn candidate_capacities(&self, scratch: &mut Scratch, out: &mut Vec<(u32, u64)>) {
        out.clear();
        let contended = self.is_contended();
        if contended {
            scratch.members.clear();
            let active = self.active.iter().map(|k| self.members[k as usize]);
            scratch.members.extend(active);
            water_fill(
                self.allocatable_millis,
                &scratch.members,
                &mut scratch.shares,
            );
        }
        let mut j = 0; // the next active member's place in the division
        for w in 0..self.active.words().max(self.released.words()) {
            let (active, released) = (self.active.word_at(w), self.released.word_at(w));
            debug_assert_eq!(active & released, 0, "an active member is never released");
            for b in bits(active | released) {
                let k = (w * 64) as u32 + b;
                let m = &self.members[k as usize];
                // Idle, uncontended, or its demand met: its cap (the rate is its demand anyway).
                let mut capacity = m.cap_millis;
                if active & (1 << b) != 0 {
                    if contended && scratch.shares[j] < m.demand_millis {
                        capacity = scratch.shares[j];
                    }
                    j += 1;
                }
                out.push((k, capacity));
            }
        }
    }

    /// The CPU each member may use now, in member order: its cap while the node is not
    /// contended; otherwise its weighted share, or its cap when its demand is met (its rate is
    /// its demand either way, and an unchanged capacity needs no rescheduling).
    #[cfg(test)]
    pub fn capacities(&self, out: &mut Vec<u64>) {
        if !self.is_contended() {
            out.clear();
            out.extend(self.members.iter().map(|m| m.cap_millis));
            return;
        }
        water_fill(self.allocatable_millis, &self.members, out);
        for (share, m) in out.iter_mut().zip(&self.members) {
            if *share >= m.demand_millis {
                *share = m.cap_millis;
            }
        }
    }
}

/// Where a pod is a member: its node and its index there. A pod's server keeps a copy, so
/// that a demand change need not look it up (the engine updates the copy when a departure
/// moves a member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    node: u32,
    index: u32,
}

/// A member's departure from a node.
#[derive(Clone, Copy, Debug)]
pub struct Departure {
    pub node: NodeId,
    /// The member that took the departed one's index, with its new place.
    pub moved: Option<(PodId, Place)>,
}

/// Working space for a division.
#[derive(Default)]
struct Scratch {
    members: Vec<Member>,
    shares: Vec<u64>,
    candidates: Vec<(u32, u64)>,
}

/// Every node's CPU sharing, with each serving pod's place for constant-time updates.
#[derive(Default)]
pub struct CpuSharing {
    nodes: Vec<NodeCpu>,
    places: Vec<Option<Place>>,
    scratch: Scratch,
    changed: Vec<(PodId, u64)>,
}

impl CpuSharing {
    /// The pod starts serving on `node` (whose allocatable CPU is `allocatable_millis`).
    /// Returns its place.
    pub fn join(&mut self, node: NodeId, allocatable_millis: u64, member: Member) -> Place {
        if self.nodes.len() <= node.index() {
            self.nodes.resize_with(node.index() + 1, NodeCpu::default);
        }
        let n = &mut self.nodes[node.index()];
        n.allocatable_millis = allocatable_millis;
        let index = n.join(member) as u32;
        let pod = member.pod.index();
        if self.places.len() <= pod {
            self.places.resize(pod + 1, None);
        }
        let place = Place {
            node: node.0,
            index,
        };
        self.places[pod] = Some(place);
        place
    }

    /// The pod stops serving (`None`: it was not serving).
    pub fn leave(&mut self, pod: PodId) -> Option<Departure> {
        let place = self.places.get_mut(pod.index())?.take()?;
        let n = &mut self.nodes[place.node as usize];
        n.leave(place.index as usize);
        let moved = n.members.get(place.index as usize).map(|m| (m.pod, place));
        if let Some((moved, _)) = moved {
            self.places[moved.index()] = Some(place);
        }
        Some(Departure {
            node: NodeId(place.node),
            moved,
        })
    }

    /// Whether the serving pods on `node` could want more CPU than it has.
    pub fn may_contend(&self, node: NodeId) -> bool {
        self.nodes
            .get(node.index())
            .is_some_and(NodeCpu::may_contend)
    }

    /// The serving pods on `node`.
    pub fn members(&self, node: NodeId) -> impl Iterator<Item = PodId> + '_ {
        self.nodes
            .get(node.index())
            .into_iter()
            .flat_map(|n| n.members.iter().map(|m| m.pod))
    }

    /// The pod's demand changed. Returns its node when the shares there must be divided again.
    pub fn set_demand(&mut self, pod: PodId, demand_millis: u64) -> Option<NodeId> {
        let place = (*self.places.get(pod.index())?)?;
        self.set_demand_at(place, demand_millis)
    }

    /// [`CpuSharing::set_demand`] of the member at `place` (which must be current).
    #[inline]
    pub fn set_demand_at(&mut self, place: Place, demand_millis: u64) -> Option<NodeId> {
        let n = &mut self.nodes[place.node as usize];
        debug_assert_eq!(
            self.places[n.members[place.index as usize].pod.index()],
            Some(place)
        );
        n.set_demand(place.index as usize, demand_millis)
            .then_some(NodeId(place.node))
    }

    /// The serving pods on `node` whose capacity changed, as `(pod, millicores)`: what each
    /// may use now, recorded as granted.
    pub fn changed_capacities(
        &mut self,
        node: NodeId,
    ) -> impl Iterator<Item = (PodId, u64)> + Clone + '_ {
        let n = &mut self.nodes[node.index()];
        let mut candidates = std::mem::take(&mut self.scratch.candidates);
        n.candidate_capacities(&mut self.scratch, &mut candidates);
        n.stale = false;
        n.released.clear();
        self.changed.clear();
        for &(k, share) in &candidates {
            let m = &mut n.members[k as usize];
            if m.granted_millis != share {
                m.granted_millis = share;
                self.changed.push((m.pod, share));
            }
        }
        self.scratch.candidates = candidates;
        self.changed.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pod: u32, weight: u64, cap: u64, demand: u64) -> Member {
        Member {
            pod: PodId(pod),
            weight,
            cap_millis: cap,
            demand_millis: demand,
            granted_millis: cap,
        }
    }

    fn fill(capacity: u64, members: &[Member]) -> Vec<u64> {
        let mut out = Vec::new();
        water_fill(capacity, members, &mut out);
        out
    }

    /// The textbook water fill: members settle one by one in order of demand per weight, each
    /// against its share of what the earlier ones left.
    fn fill_in_ratio_order(capacity: u64, members: &[Member]) -> Vec<u64> {
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&members[a], &members[b]);
            (u128::from(x.demand_millis) * u128::from(y.weight))
                .cmp(&(u128::from(y.demand_millis) * u128::from(x.weight)))
        });
        let mut out = vec![0; members.len()];
        let (mut left, mut weight_left) = (capacity, members.iter().map(|m| m.weight).sum());
        for (k, &i) in order.iter().enumerate() {
            let m = &members[i];
            if m.demand_millis > share_of(left, m.weight, weight_left) {
                for &j in &order[k..] {
                    out[j] = share_of(left, members[j].weight, weight_left);
                }
                break;
            }
            out[i] = m.demand_millis;
            left -= m.demand_millis;
            weight_left -= m.weight;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn settling_in_passes_gives_the_shares_of_settling_in_ratio_order(
            capacity in 0u64..20_000,
            members in proptest::collection::vec((2u64..3000, 0u64..9000), 0..24),
        ) {
            let members: Vec<Member> = members
                .iter()
                .enumerate()
                .map(|(i, &(weight, demand))| member(i as u32, weight, u64::MAX, demand))
                .collect();
            proptest::prop_assert_eq!(fill(capacity, &members), fill_in_ratio_order(capacity, &members));
        }
    }

    /// The capacities a division of every member would pass on, in member order.
    fn changed_by_full_scan(node: &NodeCpu) -> Vec<(PodId, u64)> {
        let mut fresh = Vec::new();
        node.capacities(&mut fresh);
        let members = node.members.iter().zip(fresh);
        let changed = members.filter(|(m, share)| m.granted_millis != *share);
        changed.map(|(m, share)| (m.pod, share)).collect()
    }

    proptest::proptest! {
        /// Demands change one at a time, as requests come and go, and the shares are divided
        /// again only when `set_demand` asks: each member's granted CPU is always what a fresh
        /// division gives, and the changes passed on are those of a division of every member,
        /// in member order.
        #[test]
        fn skipped_divisions_would_not_have_changed_a_share(
            allocatable in 1000u64..16_000,
            members in proptest::collection::vec((2u64..3000, 1u64..8), 1..12),
            steps in proptest::collection::vec((0usize..12, 0u64..9), 1..200),
        ) {
            let node = NodeId(0);
            let mut cpu = CpuSharing::default();
            for (i, &(weight, cores)) in members.iter().enumerate() {
                cpu.join(node, allocatable, member(i as u32, weight, cores * 1000, 0));
            }
            cpu.changed_capacities(node).for_each(drop);
            for (pick, requests) in steps {
                let i = pick % members.len();
                let demand = (requests * 1000).min(members[i].1 * 1000);
                if cpu.set_demand(PodId(i as u32), demand).is_some() {
                    let expected = changed_by_full_scan(&cpu.nodes[0]);
                    let changed: Vec<_> = cpu.changed_capacities(node).collect();
                    proptest::prop_assert_eq!(changed, expected);
                }
                let n = &cpu.nodes[0];
                let mut fresh = Vec::new();
                n.capacities(&mut fresh);
                let granted: Vec<u64> = n.members.iter().map(|m| m.granted_millis).collect();
                proptest::prop_assert_eq!(granted, fresh);
            }
        }
    }

    /// Pods join, leave and change demands in `steps` (kind, pod, value), with demands set at
    /// the places `join` and `leave` hand out, as the engine's servers keep them
    /// (`set_demand_at` checks each against the pod's own): after every division the changes
    /// passed on are a full division's, in member order.
    fn check_members_coming_and_going(
        allocatable: u64,
        steps: Vec<(u8, u32, u64)>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let node = NodeId(0);
        let mut cpu = CpuSharing::default();
        let mut places = std::collections::BTreeMap::new();
        for (kind, pod, value) in steps {
            let divide = match (kind, places.get(&pod).copied()) {
                (0, Some(_)) => {
                    places.remove(&pod);
                    let departure = cpu.leave(PodId(pod)).expect("serving");
                    if let Some((moved, place)) = departure.moved {
                        places.insert(moved.0, place);
                    }
                    true
                }
                (1 | 2, None) => {
                    let weight = 256 * (1 + u64::from(pod % 3));
                    let joined = member(pod, weight, (1 + value) * 1000, 0);
                    places.insert(pod, cpu.join(node, allocatable, joined));
                    true
                }
                (_, Some(place)) => cpu.set_demand_at(place, value * 1000).is_some(),
                (_, None) => false,
            };
            if divide && !cpu.nodes[0].members.is_empty() {
                let expected = changed_by_full_scan(&cpu.nodes[0]);
                let changed: Vec<_> = cpu.changed_capacities(node).collect();
                proptest::prop_assert_eq!(changed, expected);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        /// As above with pods joining and leaving (members change places).
        #[test]
        fn members_coming_and_going_keep_the_divisions_whole(
            allocatable in 1000u64..8000,
            steps in proptest::collection::vec((0u8..6, 0u32..10, 0u64..5), 1..300),
        ) {
            check_members_coming_and_going(allocatable, steps)?;
        }

        /// The same on nodes of up to 150 pods: members past the 64th are kept in the member
        /// sets' further words, and a departure moves the last of them into an earlier word.
        #[test]
        fn members_past_the_first_word_keep_the_divisions_whole(
            allocatable in 20_000u64..120_000,
            steps in proptest::collection::vec((0u8..6, 0u32..150, 0u64..5), 1..600),
        ) {
            check_members_coming_and_going(allocatable, steps)?;
        }

        /// A member set holds what a `BTreeSet` would, and walks it in the same order.
        #[test]
        fn a_member_set_is_an_ordered_set(
            ops in proptest::collection::vec((proptest::bool::ANY, 0u32..200), 0..400),
        ) {
            let (mut set, mut model) = (MemberSet::default(), std::collections::BTreeSet::new());
            for (add, i) in ops {
                if add {
                    set.insert(i);
                    model.insert(i);
                } else {
                    set.remove(i);
                    model.remove(&i);
                }
                proptest::prop_assert_eq!(set.contains(i), model.contains(&i));
                proptest::prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            }
            set.clear();
            proptest::prop_assert_eq!(set.iter().count(), 0);
        }
    }

    #[test]
    fn shares_follow_requests_with_the_kernel_bounds() {
        // 250m → 250 × 1024 / 1000 = 256; 1 core → 1024; none → 2; 1m → 1 → 2; 300 cores → max.
        let cases = [
            (250, 256),
            (1000, 1024),
            (0, 2),
            (1, 2),
            (300_000, MAX_SHARES),
        ];
        for (request, shares) in cases {
            assert_eq!(shares_for_request(request), shares, "{request}m");
        }
    }

    #[test]
    fn saturated_node_divides_by_weight() {
        // 4 cores, both want all of it, weights 1:3 → 1000 and 3000.
        let out = fill(
            4000,
            &[member(0, 256, 4000, 4000), member(1, 768, 4000, 4000)],
        );
        assert_eq!(out, [1000, 3000]);
    }

    #[test]
    fn what_a_small_demand_leaves_goes_to_the_others() {
        // 4 cores, equal weights: a fair share would be 1333 each, but pod 0 wants 500, so the
        // other two split 3500 → 1750 each.
        let out = fill(
            4000,
            &[
                member(0, 1024, 4000, 500),
                member(1, 1024, 4000, 4000),
                member(2, 1024, 4000, 4000),
            ],
        );
        assert_eq!(out, [500, 1750, 1750]);
    }

    #[test]
    fn a_capped_member_is_limited_by_its_demand_not_its_weight() {
        // A heavy pod limited to 1 core (its demand is at most its cap): 1000; the light one gets
        // the remaining 3000 although its weight is 1/10 of the other's.
        let out = fill(
            4000,
            &[member(0, 10_240, 1000, 1000), member(1, 1024, 4000, 4000)],
        );
        assert_eq!(out, [1000, 3000]);
    }

    #[test]
    fn only_changed_capacities_are_passed_on() {
        let mut cpu = CpuSharing::default();
        let node = NodeId(3);
        cpu.join(node, 4000, member(0, 256, 4000, 0));
        let one = cpu.join(node, 4000, member(1, 768, 1000, 0));
        let changed: Vec<_> = cpu.changed_capacities(node).collect();
        assert_eq!(
            changed,
            [],
            "uncontended: both keep the caps they joined with"
        );
        // Pod 0 wants 4 cores, pod 1 its 1 core: 5000 > 4000. Water-filling: θ = 4000/1024;
        // pod 1's share 768θ = 3000 ≥ 1000 → met (keeps its cap 1000); pod 0 gets 3000.
        assert_eq!(cpu.set_demand(PodId(0), 4000), None, "4000 fits in 4000");
        assert_eq!(cpu.set_demand(PodId(0), 4000), None, "unchanged demand");
        assert_eq!(cpu.set_demand(PodId(1), 1000), Some(node));
        let changed: Vec<_> = cpu.changed_capacities(node).collect();
        assert_eq!(changed, [(PodId(0), 3000)], "pod 1 keeps its cap");
        assert_eq!(cpu.changed_capacities(node).count(), 0, "nothing new");
        assert!(cpu.may_contend(node), "caps 4000 + 1000 > 4000");
        // Pod 1 needs less: uncontended again, pod 0 gets its cap back.
        assert_eq!(cpu.set_demand(PodId(1), 0), Some(node));
        let changed: Vec<_> = cpu.changed_capacities(node).collect();
        assert_eq!(changed, [(PodId(0), 4000)]);
        // Pod 0 leaves: pod 1 moved to index 0 and is still found.
        let departure = cpu.leave(PodId(0)).expect("pod 0 serves");
        assert_eq!(departure.node, node);
        let (moved, place) = departure.moved.expect("pod 1 took index 0");
        assert_eq!(moved, PodId(1));
        assert_ne!(place, one);
        assert!(!cpu.may_contend(node));
        assert_eq!(cpu.set_demand(PodId(1), 500), None);
        assert_eq!(cpu.changed_capacities(node).count(), 0);
        assert!(cpu.leave(PodId(0)).is_none(), "not a member any more");
    }
}
