//! Typed ids of the simulated cluster's objects: each indexes its kind's arena in
//! `cluster::Cluster`, and specs use them to name a node or a workload.

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(
            /// The position in its arena.
            pub u32,
        );
        impl $name {
            /// The position in its arena, to index it.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

typed_id!(/// A node pool.
    PoolId);
typed_id!(/// A node.
    NodeId);
typed_id!(/// A pod (ids are never reused).
    PodId);
typed_id!(/// A ReplicaSet.
    ReplicaSetId);
typed_id!(/// A Deployment.
    DeploymentId);
typed_id!(/// A Service.
    ServiceId);
typed_id!(/// A HorizontalPodAutoscaler.
    HpaId);
