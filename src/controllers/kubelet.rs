//! kubelet (first version): after a pod is bound, its containers start and it turns Ready after
//! the workload's startup time (image pull, start, warm-up). Probes arrive with the lifecycle
//! work; until then a started container is Ready.

use crate::scenario::WorkloadModel;
use crate::sim::{SimDuration, SimRng};

/// How long from binding until the pod is Running and Ready.
pub fn startup_delay(workload: &WorkloadModel, rng: &mut SimRng) -> SimDuration {
    workload.startup_time.sample(rng)
}
