//! What the next reconcile must look at. Every change the controllers could react to marks
//! it: a pod, ReplicaSet or replica count of one workload marks that workload (its
//! Deployment/StatefulSet/DaemonSet controller and its ReplicaSets run again); a change every
//! workload may react to — a node added, registered, removed, tainted or failed — marks them
//! all; a change only the scheduler cares about marks nothing but still calls a reconcile.
//!
//! Reconciling only the marked workloads is what upstream's informers and work queues do. It
//! gives the same intents, in the same order, as reconciling every workload, because a workload
//! nothing changed for asks for nothing — debug builds check exactly that on every pass (see
//! `Engine::check_untouched_are_settled`).

use crate::cluster::DeploymentId;

#[derive(Debug)]
pub struct Dirty {
    /// A reconcile is due (the scheduler at least must run).
    any: bool,
    /// Every workload must be reconciled.
    all: bool,
    /// Per workload: marked since the last [`Dirty::take`].
    marked: Vec<bool>,
    /// The marked workloads, unordered and without repeats.
    list: Vec<DeploymentId>,
}

impl Dirty {
    /// Everything marked: the first reconcile looks at every workload.
    pub fn new() -> Dirty {
        Dirty {
            any: true,
            all: true,
            marked: Vec::new(),
            list: Vec::new(),
        }
    }

    pub fn any(&self) -> bool {
        self.any
    }

    /// A change of one workload's objects.
    pub fn workload(&mut self, d: DeploymentId) {
        self.any = true;
        if self.all {
            return;
        }
        let i = d.index();
        if self.marked.len() <= i {
            self.marked.resize(i + 1, false);
        }
        if !self.marked[i] {
            self.marked[i] = true;
            self.list.push(d);
        }
    }

    /// A change every workload may react to.
    pub fn everything(&mut self) {
        self.any = true;
        self.all = true;
    }

    /// A change only the scheduler reacts to (a retry came due, a pod was nominated).
    pub fn scheduler(&mut self) {
        self.any = true;
    }

    /// The workloads to reconcile, in id order (of `count` workloads), and clears the marks.
    pub fn take(&mut self, count: usize) -> Vec<DeploymentId> {
        let taken = if self.all {
            self.list.clear();
            (0..count as u32).map(DeploymentId).collect()
        } else {
            let mut list = std::mem::take(&mut self.list);
            list.sort_unstable();
            list
        };
        for d in &taken {
            if let Some(m) = self.marked.get_mut(d.index()) {
                *m = false;
            }
        }
        self.any = false;
        self.all = false;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_taken_in_id_order_once_each() {
        let mut dirty = Dirty::new();
        assert!(dirty.any());
        assert_eq!(
            dirty.take(3).len(),
            3,
            "the first reconcile sees every workload"
        );
        assert!(!dirty.any());
        dirty.workload(DeploymentId(5));
        dirty.workload(DeploymentId(1));
        dirty.workload(DeploymentId(5));
        assert_eq!(dirty.take(8), [DeploymentId(1), DeploymentId(5)]);
        assert_eq!(dirty.take(8), []);
        dirty.scheduler();
        assert!(dirty.any());
        assert_eq!(dirty.take(8), [], "the scheduler alone marks no workload");
        dirty.workload(DeploymentId(2));
        dirty.everything();
        assert_eq!(dirty.take(3).len(), 3);
        dirty.workload(DeploymentId(2));
        assert_eq!(
            dirty.take(3),
            [DeploymentId(2)],
            "marks were cleared by the full take"
        );
    }
}
