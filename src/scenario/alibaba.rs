//! The Alibaba GPU cluster trace format (`cluster-trace-gpu-v2023`, the "openb" lists): a node
//! list (`sn,cpu_milli,memory_mib,gpu,model`) becomes node pools, one per distinct node shape;
//! a pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,…,creation_time,
//! deletion_time,…`) becomes a pod trace: bare pods created and deleted at the trace's times.
//!
//! Columns are found by their header names, so extra or reordered columns are fine. GPU shares
//! (`num_gpu: 1` with `gpu_milli` below 1000) take a whole `nvidia.com/gpu`, as the default
//! scheduler gives them; `gpu_spec` (allowed GPU models, `|`-separated) becomes a required node
//! affinity on the `nvidia.com/gpu.product` label.

use std::collections::BTreeMap;

use super::diag::Diagnostic;
use super::model::{CapacityType, KubeletCpu, NodePoolSpec, PodTemplate};
use super::yaml::Position;
use crate::cluster::resources::{self, Resources};
use crate::cluster::selector::{NodeOperator, NodeRequirement, NodeSelectorTerm};
use crate::sim::SimDuration;
use crate::sim::dist::DurationDist;

/// The node label carrying the GPU model.
pub const GPU_MODEL_LABEL: &str = "nvidia.com/gpu.product";
const MIB: i64 = 1 << 20;

/// One node of the node list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TraceNode {
    pub cpu_milli: i64,
    pub memory_mib: i64,
    pub gpus: i64,
    pub model: Option<String>,
}

/// One pod of the pod list.
#[derive(Clone, Debug, PartialEq)]
pub struct TracePodRow {
    pub name: String,
    pub cpu_milli: i64,
    pub memory_mib: i64,
    pub num_gpu: i64,
    pub gpu_milli: i64,
    pub gpu_models: Vec<String>,
    pub creation_secs: f64,
    pub deletion_secs: Option<f64>,
}

/// Prices for the pools built from a node list.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodePricing {
    pub per_core_hour: f64,
    pub per_gib_hour: f64,
    pub per_gpu_hour: f64,
}

/// A CSV with a header row, read into records keyed by column name.
struct Table<'t> {
    file: &'t str,
    columns: Vec<&'t str>,
    rows: Vec<(usize, Vec<&'t str>)>,
}

impl<'t> Table<'t> {
    fn parse(
        file: &'t str,
        text: &'t str,
        required: &[&str],
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            diags.push(line_error(file, 1, "", "the file is empty"));
            return None;
        };
        let columns: Vec<&str> = header.split(',').map(str::trim).collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.contains(c))
            .collect();
        if !missing.is_empty() {
            diags.push(line_error(
                file,
                1,
                "",
                format!("missing column(s) {} in the header", missing.join(", ")),
            ));
            return None;
        }
        let rows = lines
            .map(|(i, l)| (i + 1, l.split(',').map(str::trim).collect()))
            .collect();
        Some(Table {
            file,
            columns,
            rows,
        })
    }

    fn field<'r>(&self, row: &'r [&'t str], column: &str) -> &'r str {
        let i = self
            .columns
            .iter()
            .position(|c| *c == column)
            .unwrap_or(usize::MAX);
        row.get(i).copied().unwrap_or("")
    }

    /// A non-negative integer field; an error naming the line and column otherwise.
    fn integer(
        &self,
        line: usize,
        row: &[&str],
        column: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<i64> {
        let text = self.field(row, column);
        match text.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                diags.push(line_error(
                    self.file,
                    line,
                    column,
                    format!("{text:?} is not a non-negative integer"),
                ));
                None
            }
        }
    }
}

fn line_error(file: &str, line: usize, column: &str, message: impl Into<String>) -> Diagnostic {
    let position = Some(Position {
        line: line as u32,
        column: 1,
    });
    Diagnostic::error(file, position, column, message)
}

/// Reads a node list (`sn,cpu_milli,memory_mib,gpu,model`).
pub fn read_nodes(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<TraceNode> {
    let Some(table) = Table::parse(
        file,
        text,
        &["cpu_milli", "memory_mib", "gpu", "model"],
        diags,
    ) else {
        return Vec::new();
    };
    let mut nodes = Vec::new();
    for (line, row) in &table.rows {
        let cpu = table.integer(*line, row, "cpu_milli", diags);
        let memory = table.integer(*line, row, "memory_mib", diags);
        let gpus = table.integer(*line, row, "gpu", diags);
        let model = table.field(row, "model");
        if let (Some(cpu_milli), Some(memory_mib), Some(gpus)) = (cpu, memory, gpus) {
            nodes.push(TraceNode {
                cpu_milli,
                memory_mib,
                gpus,
                model: (!model.is_empty()).then(|| model.to_string()),
            });
        }
    }
    if nodes.is_empty() && table.rows.is_empty() {
        diags.push(line_error(file, 1, "", "the node list has no nodes"));
    }
    nodes
}

/// Reads a pod list. Creation times must not decrease; a deletion before creation is an error.
pub fn read_pods(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<TracePodRow> {
    let required = [
        "name",
        "cpu_milli",
        "memory_mib",
        "num_gpu",
        "gpu_milli",
        "gpu_spec",
        "creation_time",
        "deletion_time",
    ];
    let Some(table) = Table::parse(file, text, &required, diags) else {
        return Vec::new();
    };
    let mut pods: Vec<TracePodRow> = Vec::new();
    for (line, row) in &table.rows {
        let line = *line;
        let ints: Vec<Option<i64>> = [
            "cpu_milli",
            "memory_mib",
            "num_gpu",
            "gpu_milli",
            "creation_time",
        ]
        .iter()
        .map(|c| table.integer(line, row, c, diags))
        .collect();
        let deletion = match table.field(row, "deletion_time") {
            "" => None,
            _ => table.integer(line, row, "deletion_time", diags),
        };
        let [
            Some(cpu_milli),
            Some(memory_mib),
            Some(num_gpu),
            Some(gpu_milli),
            Some(created),
        ] = ints[..]
        else {
            continue;
        };
        if deletion.is_some_and(|d| d < created) {
            diags.push(line_error(
                file,
                line,
                "deletion_time",
                "is before creation_time",
            ));
            continue;
        }
        if pods
            .last()
            .is_some_and(|p| p.creation_secs > created as f64)
        {
            diags.push(line_error(
                file,
                line,
                "creation_time",
                "pods must be listed in order of creation_time",
            ));
            continue;
        }
        let spec = table.field(row, "gpu_spec");
        pods.push(TracePodRow {
            name: table.field(row, "name").to_string(),
            cpu_milli,
            memory_mib,
            num_gpu,
            gpu_milli,
            gpu_models: spec
                .split('|')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            creation_secs: created as f64,
            deletion_secs: deletion.map(|d| d as f64),
        });
    }
    if pods.is_empty() && table.rows.is_empty() {
        diags.push(line_error(file, 1, "", "the pod list has no pods"));
    }
    pods
}

/// One pool per distinct node shape, in order of first appearance, named after it
/// (`<prefix>-<model>-<gpus>gpu-<cores>c-<GiB>gi`, `cpu` for nodes without GPUs).
pub fn pools_from_nodes(
    prefix: &str,
    nodes: &[TraceNode],
    pricing: NodePricing,
) -> Vec<NodePoolSpec> {
    let mut counts: BTreeMap<&TraceNode, u32> = BTreeMap::new();
    let mut order: Vec<&TraceNode> = Vec::new();
    for n in nodes {
        let c = counts.entry(n).or_insert(0);
        if *c == 0 {
            order.push(n);
        }
        *c += 1;
    }
    order
        .into_iter()
        .map(|shape| pool_for(prefix, shape, counts[shape], pricing))
        .collect()
}

fn pool_for(prefix: &str, shape: &TraceNode, count: u32, pricing: NodePricing) -> NodePoolSpec {
    let cores = shape.cpu_milli as f64 / 1000.0;
    let gib = shape.memory_mib as f64 / 1024.0;
    let kind = match &shape.model {
        Some(m) => format!("{}-{}gpu", m.to_lowercase(), shape.gpus),
        None => "cpu".to_string(),
    };
    let name = format!("{prefix}-{kind}-{}c-{}gi", trim(cores), trim(gib));
    let mut allocatable = Resources {
        cpu_millis: shape.cpu_milli,
        memory_bytes: shape.memory_mib * MIB,
        ..Default::default()
    };
    if shape.gpus > 0 {
        allocatable.set(resources::GPU, shape.gpus);
    }
    let mut labels = BTreeMap::new();
    if let Some(m) = &shape.model {
        labels.insert(GPU_MODEL_LABEL.to_string(), m.clone());
    }
    let price = cores * pricing.per_core_hour
        + gib * pricing.per_gib_hour
        + shape.gpus as f64 * pricing.per_gpu_hour;
    NodePoolSpec {
        name,
        instance_type: None,
        count,
        allocatable,
        max_pods: 110,
        labels,
        annotations: Default::default(),
        taints: Vec::new(),
        price_usd_per_hour: (price * 1e6).round() / 1e6,
        capacity_type: CapacityType::OnDemand,
        spot_price_usd_per_hour: None,
        min_count: count,
        max_count: count,
        provisioning_time: DurationDist::Constant(SimDuration::from_secs(60)),
        zones: Vec::new(),
        failures: None,
        spot_interruption_mtbi: None,
        image_pull_bandwidth: None,
        kubelet: KubeletCpu::default(),
        karpenter: None,
    }
}

/// `96`, `1.5`: no trailing `.0`.
fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The pod's spec: its cpu and memory requests, whole GPUs (a share takes one), and the GPU
/// models it accepts as a required node affinity.
pub fn template_for(pod: &TracePodRow) -> PodTemplate {
    let mut requests = Resources {
        cpu_millis: pod.cpu_milli,
        memory_bytes: pod.memory_mib * MIB,
        ..Default::default()
    };
    let gpus = if pod.num_gpu == 1 && pod.gpu_milli > 0 {
        1
    } else {
        pod.num_gpu
    };
    if gpus > 0 {
        requests.set(resources::GPU, gpus);
    }
    // NodeResourcesFit scores a container without a cpu/memory request as 100m / 200Mi.
    let mut scoring_requests = requests.clone();
    if pod.cpu_milli == 0 {
        scoring_requests.cpu_millis = 100;
    }
    if pod.memory_mib == 0 {
        scoring_requests.memory_bytes = 200 * MIB;
    }
    let required_node_affinity = if pod.gpu_models.is_empty() {
        Vec::new()
    } else {
        vec![NodeSelectorTerm {
            match_expressions: vec![NodeRequirement {
                key: GPU_MODEL_LABEL.to_string(),
                operator: NodeOperator::In,
                values: pod.gpu_models.clone(),
            }],
            match_fields: Vec::new(),
        }]
    };
    PodTemplate {
        requests,
        scoring_requests,
        required_node_affinity,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model\nn0,96000,393216,8,G2\nn1,32000,262144,0,\nn2,96000,393216,8,G2\n";
    const PODS: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\np0,12000,16384,1,1000,,LS,Running,0,100,0\np1,6000,12288,1,460,T4|P100,LS,Running,5,,5\np2,4000,8192,0,0,,BE,Running,5,50,5\n";

    #[test]
    fn nodes_become_one_pool_per_shape() {
        let mut diags = Vec::new();
        let nodes = read_nodes("nodes.csv", NODES, &mut diags);
        assert!(diags.is_empty());
        let pricing = NodePricing {
            per_core_hour: 0.01,
            per_gib_hour: 0.0,
            per_gpu_hour: 1.0,
        };
        let pools = pools_from_nodes("openb", &nodes, pricing);
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].name, "openb-g2-8gpu-96c-384gi");
        assert_eq!(pools[0].count, 2);
        assert_eq!(pools[0].allocatable.get(resources::GPU), 8);
        assert_eq!(pools[0].labels[GPU_MODEL_LABEL], "G2");
        // 96 cores × 0.01 + 8 GPUs × 1.0 = 8.96 USD per hour.
        assert_eq!(pools[0].price_usd_per_hour, 8.96);
        assert_eq!(pools[1].name, "openb-cpu-32c-256gi");
    }

    #[test]
    fn pods_keep_their_requests_times_and_gpu_models() {
        let mut diags = Vec::new();
        let pods = read_pods("pods.csv", PODS, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(pods.len(), 3);
        assert_eq!(pods[1].deletion_secs, None);
        let share = template_for(&pods[1]);
        // A 460-milli GPU share takes one whole GPU under the default scheduler.
        assert_eq!(share.requests.get(resources::GPU), 1);
        assert_eq!(share.requests.memory_bytes, 12288 * MIB);
        assert_eq!(
            share.required_node_affinity[0].match_expressions[0].values,
            ["T4", "P100"]
        );
        assert_eq!(template_for(&pods[2]).requests.get(resources::GPU), 0);
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_column() {
        let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\np0,lots,1,0,0,,0,10\np1,1,1,0,0,,20,10\np2,1,1,0,0,,30,40\np3,1,1,0,0,,25,40\n";
        let mut diags = Vec::new();
        let pods = read_pods("pods.csv", text, &mut diags);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "pods.csv:2:1: cpu_milli: \"lots\" is not a non-negative integer",
                "pods.csv:3:1: deletion_time: is before creation_time",
                "pods.csv:5:1: creation_time: pods must be listed in order of creation_time",
            ]
        );
        assert_eq!(pods.len(), 1);
        let mut diags = Vec::new();
        read_nodes("nodes.csv", "sn,cpu_milli,gpu\n", &mut diags);
        assert_eq!(
            diags[0].to_string(),
            "nodes.csv:1:1: missing column(s) memory_mib, model in the header"
        );
    }
}
