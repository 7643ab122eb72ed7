//! Drift (`pkg/controllers/disruption/drift.go`): nodes whose NodePool changed under them — an
//! applied spec no longer admits their offering, or changed the labels, taints or node class
//! they were made with — are replaced. Empty drifted nodes go all at once (as the `Drifted`
//! budgets allow); otherwise the first drifted node whose pods can all be placed — on the other
//! nodes or on new NodeClaims of what the NodePools admit now — is tainted, its replacements
//! are launched, and it is drained once they are Ready. Pods annotated `do-not-disrupt` and
//! PodDisruptionBudgets hold a node back as for consolidation; `consolidateAfter` does not.

use super::take_budget;
use crate::cluster::{Cluster, NodeId};
use crate::controllers::karpenter::{Karpenter, live_nodes, reschedulable};
use crate::controllers::{Intent, disruption as pdb};
use crate::sim::SimTime;
use crate::spec::karpenter::DisruptionReason;

impl Karpenter {
    /// One drift decision, carried out at once; whether there was one.
    pub(super) fn drift(
        &mut self,
        cluster: &mut Cluster,
        now: SimTime,
        out: &mut Vec<Intent>,
    ) -> bool {
        let drifted: Vec<NodeId> = live_nodes(cluster)
            .filter(|n| !self.disruption.busy(n.id) && self.drifted(cluster, n))
            .map(|n| n.id)
            .collect();
        if drifted.is_empty() {
            return false;
        }
        let allowed = pdb::disruptions_allowed(cluster);
        let mut candidates = Vec::new();
        for node in drifted {
            match self.pods_block(cluster, node, &allowed, now) {
                Some(why) => self.say(cluster.node(node).name.clone(), why, now, true),
                None => candidates.push(node),
            }
        }
        let node_pool = |n: NodeId| {
            (self.node_pool_of(cluster, cluster.node(n))).expect("live nodes are Karpenter's")
        };
        let pools: Vec<usize> = candidates.iter().map(|&n| node_pool(n)).collect();
        let mut left = self.budget_left(cluster, DisruptionReason::Drifted, now);
        let empty: Vec<NodeId> = (candidates.iter().zip(&pools))
            .filter(|&(&n, &np)| {
                reschedulable(cluster, n).next().is_none() && take_budget(&mut left, np)
            })
            .map(|(&n, _)| n)
            .collect();
        if !empty.is_empty() {
            self.disrupted(cluster, DisruptionReason::Drifted, &empty, None, now);
            for node in empty {
                self.terminate(cluster, node, now, out);
            }
            return true;
        }
        for (&node, &np) in candidates.iter().zip(&pools) {
            if left[np] > 0 && self.replace_drifted(cluster, node, now, out) {
                return true;
            }
        }
        false
    }

    /// Replaces one drifted node if its pods can all be placed: deleted at once when they fit
    /// on other nodes, else tainted with its replacements launched.
    fn replace_drifted(
        &mut self,
        cluster: &mut Cluster,
        node: NodeId,
        now: SimTime,
        out: &mut Vec<Intent>,
    ) -> bool {
        let claims = match self.simulate(cluster, &[node]) {
            Ok(claims) => claims,
            Err(why) => {
                self.say(cluster.node(node).name.clone(), why, now, true);
                return false;
            }
        };
        let cluster: &Cluster = cluster;
        if claims.is_empty() {
            self.disrupted(cluster, DisruptionReason::Drifted, &[node], None, now);
            self.terminate(cluster, node, now, out);
            return true;
        }
        self.start_replacement(
            cluster,
            DisruptionReason::Drifted,
            vec![node],
            &claims,
            now,
            out,
        );
        true
    }
}
