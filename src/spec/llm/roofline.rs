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

/// What a step of a model on `tp` GPUs of one type weighs before the coefficients: FLOPs and
/// bytes per unit on one GPU, and the GPU's peaks.
#[derive(Clone, Debug, PartialEq)]
pub struct RooflineInputs {
    /// Matrix-product peak (BF16, or FP8 where the precision computes in it), FLOP/s.
    peak_flops: f64,
    bandwidth: f64,
    link: f64,
    linear_flops_per_token: f64,
    lm_head_flops_per_sequence: f64,
    dense_weight_bytes: f64,
    expert_bytes: f64,
    experts: f64,
    experts_per_token: f64,
    moe_layers: f64,
    full_pair_flops: f64,
    sliding_pair_flops: f64,
    window: u64,
    full_kv_bytes: f64,
    sliding_kv_bytes: f64,
    all_reduces: f64,
    /// Bytes each GPU sends per token over a step's all-reduces (ring: 2 (tp − 1)/tp of each).
    all_reduce_bytes_per_token: f64,
}

impl RooflineInputs {
    /// The weights of `arch` at `precision` on `tp` GPUs of type `gpu`.
    pub fn new(arch: &Architecture, precision: Precision, gpu: &Gpu, tp: u64) -> RooflineInputs {
        let tp_f = tp as f64;
        let hidden = arch.hidden as f64;
        let output_projection = arch.vocab as f64 * hidden;
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
        RooflineInputs {
            peak_flops: match (precision.fp8_compute, gpu.fp8_flops_per_second) {
                (true, Some(fp8)) => fp8,
                _ => gpu.bf16_flops_per_second,
            },
            bandwidth: gpu.memory_bandwidth_bytes_per_second,
            link: gpu.interconnect_bytes_per_second,
            linear_flops_per_token: 2.0 * arch.active_layer_parameters() as f64 / tp_f,
            lm_head_flops_per_sequence: 2.0 * output_projection / tp_f,
            dense_weight_bytes: streamed * precision.weight_bytes / tp_f,
            expert_bytes: expert_params * precision.expert_weight_bytes / tp_f,
            experts,
            experts_per_token: per_token,
            moe_layers,
            full_pair_flops: pair_flops_per_layer * full_layers,
            sliding_pair_flops: pair_flops_per_layer * sliding_layers,
            window: arch.sliding.as_ref().map_or(u64::MAX, |s| s.window),
            full_kv_bytes: kv_bytes_per_layer * full_layers,
            sliding_kv_bytes: kv_bytes_per_layer * sliding_layers,
            all_reduces,
            all_reduce_bytes_per_token: all_reduces * 2.0 * (tp_f - 1.0) / tp_f * hidden * 2.0,
        }
    }
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
        Roofline::from_inputs(&RooflineInputs::new(arch, precision, gpu, tp), k)
    }

    /// The step costs of `inputs` at coefficients `k`.
    pub fn from_inputs(inputs: &RooflineInputs, k: &Coefficients) -> Roofline {
        let i = inputs;
        // µs per FLOP and per byte on one GPU.
        let flop_us = 1e6 / (i.peak_flops * k.compute_efficiency);
        let byte_us = 1e6 / (i.bandwidth * k.memory_efficiency);
        Roofline {
            linear_us_per_token: i.linear_flops_per_token * flop_us,
            lm_head_us_per_sequence: i.lm_head_flops_per_sequence * flop_us,
            dense_weights_us: i.dense_weight_bytes * byte_us,
            expert_us: i.expert_bytes * byte_us,
            experts: i.experts,
            experts_per_token: i.experts_per_token,
            moe_layers: i.moe_layers,
            full_pair_us: i.full_pair_flops * flop_us,
            sliding_pair_us: i.sliding_pair_flops * flop_us,
            window: i.window,
            full_kv_us: i.full_kv_bytes * byte_us,
            sliding_kv_us: i.sliding_kv_bytes * byte_us,
            all_reduce_fixed_us: i.all_reduces * k.all_reduce_us,
            all_reduce_us_per_token: i.all_reduce_bytes_per_token * 1e6 / i.link,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Round numbers: 1 PFLOP/s, 1 TB/s, a 100 GB/s link; full efficiency, 100 µs a step and
    /// 10 µs an all-reduce.
    fn gpu() -> Gpu {
        Gpu {
            memory_bytes: 80 << 30,
            memory_bandwidth_bytes_per_second: 1e12,
            bf16_flops_per_second: 1e15,
            fp8_flops_per_second: Some(2e15),
            interconnect_bytes_per_second: 1e11,
            interconnect: "test".into(),
            source: "test".into(),
        }
    }

    const K: Coefficients = Coefficients {
        compute_efficiency: 1.0,
        memory_efficiency: 1.0,
        step_overhead_us: 100.0,
        all_reduce_us: 10.0,
    };

    /// Two layers of width 1024 (8 heads of 128, no grouping), an MLP of 4096, 1 000 tokens of
    /// vocabulary: 16 777 216 parameters a layer, 1 024 000 in the output projection.
    fn arch() -> Architecture {
        Architecture::from_config_json(
            r#"{"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 2,
            "num_attention_heads": 8, "vocab_size": 1000, "max_position_embeddings": 8192}"#,
        )
        .unwrap()
    }

    fn decode(sequences: u64, context: u64) -> StepShape {
        StepShape {
            decode_sequences: sequences,
            decode_context_tokens: context,
            ..StepShape::default()
        }
    }

    #[test]
    fn a_decode_step_reads_the_weights_and_the_kv_once() {
        let r = Roofline::new(&arch(), Precision::BF16, &gpu(), 1, &K);
        // Weights: (33 554 432 + 1 024 000) × 2 bytes at 1 TB/s = 69.157 µs, far above the
        // 4 × 2 × 33 554 432 + 4 × 2 × 1 024 000 FLOPs (0.277 µs). KV: 1 000 tokens × 2 layers ×
        // 2 × 8 heads × 128 × 2 bytes = 8.192 MB, 8.192 µs. 100 + 69.157 + 8.192 = 177.349 µs.
        assert!((r.step_us(&decode(4, 1000)) - 177.348_864).abs() < 1e-6);
        assert_eq!(r.step_time(&decode(4, 1000)), SimDuration::from_micros(177));
        // Split over two GPUs: half the weights and KV, and 2 layers × 2 all-reduces of 10 µs
        // plus 4 tokens × 4 × (2 × 1/2) × 1024 × 2 bytes at 100 GB/s (0.328 µs):
        // 100 + 34.578 + 4.096 + 40 + 0.328 = 179.002 µs.
        let r2 = Roofline::new(&arch(), Precision::BF16, &gpu(), 2, &K);
        assert!((r2.step_us(&decode(4, 1000)) - 179.002_112).abs() < 1e-6);
    }

    #[test]
    fn a_long_prefill_is_bound_by_compute_and_its_attention_grows_with_the_square() {
        let r = Roofline::new(&arch(), Precision::BF16, &gpu(), 1, &K);
        let mut shape = StepShape::default();
        shape.add_prefill(0, 4096);
        // Causal pairs 4096 × 4097 / 2 = 8 390 656.
        assert_eq!(shape.prefill_attention_pairs, 8_390_656);
        // Linear: 4096 × 2 × 33 554 432 + 2 × 1 024 000 FLOPs = 274.880 µs (weights 69.157).
        // Attention: 8 390 656 pairs × 2 layers × 4 × 8 × 128 FLOPs = 68.736 µs (KV 33.554).
        // 100 + 274.880 + 68.736 = 443.616 µs.
        assert!((r.step_us(&shape) - 443.616_208_896).abs() < 1e-6);
        // The same tokens as a second chunk after 4096 computed ones pay attention over 8192.
        let mut later = StepShape::default();
        later.add_prefill(4096, 4096);
        let attention_growth = r.step_us(&later) - r.step_us(&shape);
        // 4096 × 4096 more pairs: 16 777 216 × 8192 FLOPs = 137.439 µs.
        assert!((attention_growth - 137.438_953_472).abs() < 1e-6);
    }

    #[test]
    fn fp8_halves_the_weights_and_doubles_the_compute_rate() {
        let fp8 = Precision {
            weight_bytes: 1.0,
            expert_weight_bytes: 1.0,
            fp8_compute: true,
            kv_bytes: 1.0,
        };
        let r = Roofline::new(&arch(), fp8, &gpu(), 1, &K);
        // 100 + 69.157 / 2 + 8.192 / 2 = 138.674 µs.
        assert!((r.step_us(&decode(4, 1000)) - 138.674_432).abs() < 1e-6);
    }

    #[test]
    fn a_mixture_of_experts_reads_only_the_experts_its_tokens_reach() {
        let moe = Architecture::from_config_json(
            r#"{"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 2,
            "num_attention_heads": 8, "vocab_size": 1000, "max_position_embeddings": 8192,
            "num_local_experts": 8, "num_experts_per_tok": 2}"#,
        )
        .unwrap();
        let r = Roofline::new(&moe, Precision::BF16, &gpu(), 1, &K);
        // One token reaches 2 of 8 experts: 8 × (1 − (6/8)^1) = 2. An expert is
        // 3 × 1024 × 4096 × 2 bytes = 25.166 µs, 2 layers × 2 of them 100.663 µs, beside what
        // every step reads: attention and router (4 194 304 + 8 192) × 2 layers and the output
        // projection 1 024 000, × 2 bytes = 18.858 µs. KV: 1 token × 8 192 bytes.
        let one = r.step_us(&decode(1, 1));
        assert!((one - (100.0 + 18.857_984 + 100.663_296 + 0.008_192)).abs() < 1e-6);
        // 256 tokens reach all 8 experts of each layer (8 × (1 − 0.75^256) ≈ 8): 402.653 µs,
        // and 256 tokens of KV, 2.097 µs.
        let many = r.step_us(&decode(256, 256));
        assert!((many - (100.0 + 18.857_984 + 402.653_184 + 2.097_152)).abs() < 1e-3);
    }
}
