//! Step times from first principles: a forward pass of a model ([`Architecture`]) on GPUs
//! ([`Gpu`]) split `tp` ways, costed as a roofline per phase with efficiencies fitted to
//! measured runs.
//!
//! For a step that computes `T` tokens (prompt chunks and one token per decoding sequence) and
//! samples `S` sequences, on each of the `tp` GPUs:
//!
//! ```text
//! linear    = max(2 × active params × T ÷ tp + 2 × vocab × hidden × S ÷ tp   FLOPs ÷ (peak × e_c),
//!                 weights read ÷ tp                                          bytes ÷ (HBM × e_m))
//! attention = max(4 × heads × head dim × layers × query–key pairs ÷ tp       FLOPs ÷ (peak × e_c),
//!                 KV bytes per token × context tokens read ÷ tp              bytes ÷ (HBM × e_m))
//! all-reduce = 2 × layers × (latency + 2 (tp − 1) ÷ tp × T × hidden × 2 bytes ÷ link)   (tp > 1)
//! step      = overhead + linear + attention + all-reduce
//! ```
//!
//! The weights a step reads are the dense ones and, for a mixture of experts, the experts its
//! tokens are routed to: with routing spread evenly, `E × (1 − (1 − k/E)^T)` of a layer's `E`
//! experts. Sliding-window layers see at most the window. KV heads are split over the GPUs
//! when there are at least `tp` of them and replicated otherwise, as vLLM does. FP8 weights are
//! one byte each and run at the GPU's FP8 rate where it has one; an FP8 KV cache halves the KV
//! bytes.
//!
//! The four coefficients (compute and memory efficiency, the fixed overhead per step, the
//! latency of one all-reduce) are fitted per GPU (`assets/llm/roofline.yaml`).

use serde::{Deserialize, Serialize};

use super::architecture::Architecture;
use super::profile::StepShape;
use crate::sim::SimDuration;

/// A GPU's datasheet figures (`assets/llm/gpus.yaml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gpu {
    /// Memory of one GPU, bytes.
    pub memory_bytes: u64,
    /// HBM (or GDDR) bandwidth, bytes per second.
    pub memory_bandwidth_bytes_per_second: f64,
    /// Dense BF16 tensor throughput (without sparsity), FLOP/s.
    pub bf16_flops_per_second: f64,
    /// Dense FP8 tensor throughput, FLOP/s (`None`: no FP8 tensor cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_flops_per_second: Option<f64>,
    /// GPU-to-GPU bandwidth one way, bytes per second (NVLink, Infinity Fabric or PCIe).
    pub interconnect_bytes_per_second: f64,
    /// The link's kind (`nvlink4`, `pcie4` …), for the reader.
    pub interconnect: String,
    /// Where the figures come from.
    pub source: String,
}

/// Bytes per element of the weights and of the KV cache.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision {
    /// Bytes per weight (2 for BF16/FP16, 1 for FP8).
    pub weight_bytes: f64,
    /// Bytes per weight of the routed experts (MXFP4: 4 bits and a scale per 32, 0.53).
    pub expert_weight_bytes: f64,
    /// Whether matrix products run at the GPU's FP8 rate (FP8 weights and activations).
    pub fp8_compute: bool,
    /// Bytes per KV element (2, or 1 for an FP8 KV cache).
    pub kv_bytes: f64,
}

impl Precision {
    /// Bytes of the weights of `arch`.
    pub fn weights_bytes(&self, arch: &Architecture) -> u64 {
        let experts = arch.expert_parameters() as f64;
        let rest = arch.parameters() as f64 - experts;
        (rest * self.weight_bytes + experts * self.expert_weight_bytes) as u64
    }

    /// BF16 weights and KV cache.
    pub const BF16: Precision = Precision {
        weight_bytes: 2.0,
        expert_weight_bytes: 2.0,
        fp8_compute: false,
        kv_bytes: 2.0,
    };
}

/// The efficiencies and fixed costs fitted per GPU.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Coefficients {
    /// Fraction of the peak FLOP/s matrix products reach.
    pub compute_efficiency: f64,
    /// Fraction of the memory bandwidth reads reach.
    pub memory_efficiency: f64,
    /// Fixed time of a step (scheduling, sampling, launching the graph), µs.
    pub step_overhead_us: f64,
    /// Fixed time of one all-reduce between the tensor-parallel GPUs, µs.
    pub all_reduce_us: f64,
}

/// A model on `tp` GPUs of one type: per-unit costs in µs, ready for [`Roofline::step_us`].
#[derive(Clone, Debug, PartialEq)]
pub struct Roofline {
    /// Linear-layer compute per token.
    linear_us_per_token: f64,
    /// The output projection per sampled sequence.
    lm_head_us_per_sequence: f64,
    /// Reading the weights that every step reads (all but routed experts).
    dense_weights_us: f64,
    /// Reading one routed expert of one layer.
    expert_us: f64,
    experts: f64,
    experts_per_token: f64,
    moe_layers: f64,
    /// Attention compute per query–key pair in full-attention layers, and in sliding ones.
    full_pair_us: f64,
    sliding_pair_us: f64,
    window: u64,
    /// Reading one token's KV in full-attention layers, and in sliding ones.
    full_kv_us: f64,
    sliding_kv_us: f64,
    /// All-reduces per step: fixed part, and per token.
    all_reduce_fixed_us: f64,
    all_reduce_us_per_token: f64,
    overhead_us: f64,
}

impl Roofline {
    /// Costs `arch` at `precision` on `tp` GPUs of type `gpu` with coefficients `k`.
    pub fn new(
        arch: &Architecture,
        precision: Precision,
        gpu: &Gpu,
        tp: u64,
        k: &Coefficients,
    ) -> Roofline {
        let tp_f = tp as f64;
        let peak = if precision.fp8_compute {
            gpu.fp8_flops_per_second
                .unwrap_or(gpu.bf16_flops_per_second)
        } else {
            gpu.bf16_flops_per_second
        };
        // µs per FLOP and per byte on one GPU.
        let flop_us = 1e6 / (peak * k.compute_efficiency);
        let byte_us = 1e6 / (gpu.memory_bandwidth_bytes_per_second * k.memory_efficiency);
        let hidden = arch.hidden as f64;
        let vocab = arch.vocab as f64;
        let output_projection = vocab * hidden;
        let streamed =
            (arch.layer_parameters() - arch.expert_parameters()) as f64 + output_projection;
        let (experts, per_token, moe_layers, expert_params) = match &arch.moe {
            Some(m) => (
                m.experts as f64,
                m.per_token as f64,
                m.moe_layers as f64,
                3.0 * hidden * m.expert_ffn as f64,
            ),
            None => (0.0, 0.0, 0.0, 0.0),
        };
        let heads_per_gpu = arch.attention_heads as f64 / tp_f;
        let kv_heads_per_gpu = (arch.kv_heads as f64 / tp_f).max(1.0);
        let pair_flops_per_layer = 4.0 * heads_per_gpu * arch.head_dim as f64;
        let kv_bytes_per_layer = 2.0 * kv_heads_per_gpu * arch.head_dim as f64 * precision.kv_bytes;
        let sliding_layers = arch.sliding.as_ref().map_or(0, |s| s.layers) as f64;
        let full_layers = arch.full_attention_layers() as f64;
        let all_reduces = if tp > 1 {
            2.0 * arch.layers as f64
        } else {
            0.0
        };
        let ring = 2.0 * (tp_f - 1.0) / tp_f;
        Roofline {
            linear_us_per_token: 2.0 * arch.active_layer_parameters() as f64 / tp_f * flop_us,
            lm_head_us_per_sequence: 2.0 * output_projection / tp_f * flop_us,
            dense_weights_us: streamed * precision.weight_bytes / tp_f * byte_us,
            expert_us: expert_params * precision.expert_weight_bytes / tp_f * byte_us,
            experts,
            experts_per_token: per_token,
            moe_layers,
            full_pair_us: pair_flops_per_layer * full_layers * flop_us,
            sliding_pair_us: pair_flops_per_layer * sliding_layers * flop_us,
            window: arch.sliding.as_ref().map_or(u64::MAX, |s| s.window),
            full_kv_us: kv_bytes_per_layer * full_layers * byte_us,
            sliding_kv_us: kv_bytes_per_layer * sliding_layers * byte_us,
            all_reduce_fixed_us: all_reduces * k.all_reduce_us,
            all_reduce_us_per_token: all_reduces * ring * hidden * 2.0 * 1e6
                / gpu.interconnect_bytes_per_second,
            overhead_us: k.step_overhead_us,
        }
    }

    /// Distinct experts of a layer that `tokens` tokens are routed to, on average.
    fn experts_touched(&self, tokens: f64) -> f64 {
        if self.experts == 0.0 {
            return 0.0;
        }
        self.experts * (1.0 - (1.0 - self.experts_per_token / self.experts).powf(tokens))
    }

    /// The time of a step of this shape, µs.
    pub fn step_us(&self, shape: &StepShape) -> f64 {
        let tokens = shape.tokens() as f64;
        let sampled = shape.sequences() as f64;
        let linear_compute =
            tokens * self.linear_us_per_token + sampled * self.lm_head_us_per_sequence;
        let weights =
            self.dense_weights_us + self.moe_layers * self.experts_touched(tokens) * self.expert_us;
        let pairs = shape.prefill_attention_pairs + shape.decode_context_tokens;
        let read = shape.prefill_context_tokens + shape.decode_context_tokens;
        // A sliding-window layer's query sees at most the window, and reads at most the window
        // of each sequence's KV.
        let sliding_pairs = pairs.min(shape.tokens().saturating_mul(self.window));
        let sliding_read = read.min(shape.sequences().saturating_mul(self.window));
        let attention_compute =
            pairs as f64 * self.full_pair_us + sliding_pairs as f64 * self.sliding_pair_us;
        let kv_read = read as f64 * self.full_kv_us + sliding_read as f64 * self.sliding_kv_us;
        let all_reduce = if tokens > 0.0 {
            self.all_reduce_fixed_us + tokens * self.all_reduce_us_per_token
        } else {
            0.0
        };
        self.overhead_us + linear_compute.max(weights) + attention_compute.max(kv_read) + all_reduce
    }

    /// The time of a step of this shape (at least 1 µs).
    pub fn step_time(&self, shape: &StepShape) -> SimDuration {
        SimDuration::from_micros((self.step_us(shape).round() as u64).max(1))
    }
}
