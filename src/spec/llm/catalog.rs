//! What kubesim ships for costing LLM steps from first principles: the architectures of common
//! open models (`assets/llm/configs/*.json`, the architecture fields of their Hugging Face
//! `config.json`), a GPU table (`assets/llm/gpus.yaml`, datasheet figures with sources), and the
//! roofline's coefficients fitted per GPU (`assets/llm/roofline.yaml`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::architecture::Architecture;
use super::profile::{LlmProfile, StepCost};
use super::roofline::{Coefficients, Gpu, Precision, Roofline};

/// The shipped model configs: (name, `config.json` text).
pub const MODELS: &[(&str, &str)] = &[
    (
        "codellama-34b",
        include_str!("../../../assets/llm/configs/codellama-34b.json"),
    ),
    (
        "gpt-oss-120b",
        include_str!("../../../assets/llm/configs/gpt-oss-120b.json"),
    ),
    (
        "gpt-oss-20b",
        include_str!("../../../assets/llm/configs/gpt-oss-20b.json"),
    ),
    (
        "granite-3.3-8b-instruct",
        include_str!("../../../assets/llm/configs/granite-3.3-8b-instruct.json"),
    ),
    (
        "llama-2-70b",
        include_str!("../../../assets/llm/configs/llama-2-70b.json"),
    ),
    (
        "llama-2-7b",
        include_str!("../../../assets/llm/configs/llama-2-7b.json"),
    ),
    (
        "llama-3.1-70b",
        include_str!("../../../assets/llm/configs/llama-3.1-70b.json"),
    ),
    (
        "llama-3.1-8b",
        include_str!("../../../assets/llm/configs/llama-3.1-8b.json"),
    ),
    (
        "mistral-7b-v0.3",
        include_str!("../../../assets/llm/configs/mistral-7b-v0.3.json"),
    ),
    (
        "mixtral-8x7b",
        include_str!("../../../assets/llm/configs/mixtral-8x7b.json"),
    ),
    (
        "phi-4",
        include_str!("../../../assets/llm/configs/phi-4.json"),
    ),
    (
        "qwen2.5-7b-instruct",
        include_str!("../../../assets/llm/configs/qwen2.5-7b-instruct.json"),
    ),
    (
        "qwen3-14b",
        include_str!("../../../assets/llm/configs/qwen3-14b.json"),
    ),
    (
        "qwen3-30b-a3b",
        include_str!("../../../assets/llm/configs/qwen3-30b-a3b.json"),
    ),
    (
        "qwen3-32b",
        include_str!("../../../assets/llm/configs/qwen3-32b.json"),
    ),
    (
        "qwen3-8b",
        include_str!("../../../assets/llm/configs/qwen3-8b.json"),
    ),
];

/// The shipped GPU table's text.
pub const GPUS: &str = include_str!("../../../assets/llm/gpus.yaml");
/// The shipped fitted coefficients' text.
pub const COEFFICIENTS: &str = include_str!("../../../assets/llm/roofline.yaml");

/// The architecture of the shipped model `name`.
pub fn model(name: &str) -> Option<Architecture> {
    MODELS.iter().find(|(n, _)| *n == name).map(|(_, text)| {
        Architecture::from_config_json(text).expect("the shipped model configs are valid")
    })
}

/// The names of the shipped models.
pub fn model_names() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|(n, _)| *n)
}

/// The shipped GPUs, by name.
pub fn gpus() -> &'static BTreeMap<String, Gpu> {
    static TABLE: OnceLock<BTreeMap<String, Gpu>> = OnceLock::new();
    TABLE.get_or_init(|| serde_saphyr::from_str(GPUS).expect("the shipped GPU table is valid"))
}

/// `assets/llm/roofline.yaml`: coefficients fitted per GPU, and those for any other GPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CoefficientsFile {
    /// For GPUs without measured runs: fitted on all runs together.
    pub default: Coefficients,
    /// Fitted on each GPU's own runs.
    pub gpus: BTreeMap<String, Coefficients>,
}

fn coefficients_file() -> &'static CoefficientsFile {
    static FILE: OnceLock<CoefficientsFile> = OnceLock::new();
    FILE.get_or_init(|| {
        serde_saphyr::from_str(COEFFICIENTS).expect("the shipped coefficients are valid")
    })
}

/// The coefficients for `gpu`, and whether they were fitted on that GPU's own runs.
pub fn coefficients(gpu: &str) -> (Coefficients, bool) {
    let file = coefficients_file();
    match file.gpus.get(gpu) {
        Some(k) => (*k, true),
        None => (file.default, false),
    }
}

/// The profile of `arch` at `precision` on `tp` GPUs of type `gpu`.
pub fn roofline_profile(
    name: String,
    arch: &Architecture,
    precision: Precision,
    gpu: &Gpu,
    tp: u64,
    coefficients: &Coefficients,
) -> LlmProfile {
    LlmProfile {
        name,
        tensor_parallel: tp as u32,
        context_tokens: arch.context_tokens.min(u64::from(u32::MAX)) as u32,
        weights_bytes: precision.weights_bytes(arch),
        kv_bytes_per_token: (arch.kv_elements_per_token() as f64 * precision.kv_bytes) as u64,
        gpu_memory_bytes: gpu.memory_bytes,
        cost: StepCost::Roofline(Roofline::new(arch, precision, gpu, tp, coefficients)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_model_and_gpu_reads_and_every_fitted_gpu_is_in_the_table() {
        for (name, _) in MODELS {
            let a = model(name).unwrap();
            assert!(a.parameters() > 1_000_000_000, "{name}");
        }
        assert!(gpus().len() >= 4);
        for gpu in coefficients_file().gpus.keys() {
            assert!(
                gpus().contains_key(gpu),
                "{gpu} is fitted but not in gpus.yaml"
            );
        }
    }

    #[test]
    fn kv_cache_sizes_come_within_three_percent_of_what_vllm_logged() {
        // "GPU KV cache size: N tokens" of the measured vLLM v0.15.1 runs on H100 80GB
        // (benches/llm-calibration/data/README.md), at vLLM's default 0.9 of the memory and
        // kubesim's 2 GiB reserve per GPU. Llama-2-7B: 2 × 32 × 32 × 128 × 2 = 524 288 bytes a
        // token; 0.9 × 80 GiB − 12.55 GiB of weights − 2 GiB = 57.45 GiB → 117 652 tokens.
        let h100 = &gpus()["h100-80gb"];
        let (k, _) = coefficients("h100-80gb");
        for (name, tp, logged) in [
            ("llama-2-7b", 1, 119_408.0),
            ("llama-2-70b", 4, 501_712.0),
            ("mixtral-8x7b", 2, 440_176.0),
            ("codellama-34b", 2, 425_648.0),
        ] {
            let arch = model(name).unwrap();
            let p = roofline_profile(name.into(), &arch, Precision::BF16, h100, tp, &k);
            let tokens = p.kv_cache_tokens(0.9, 2 << 30) as f64;
            let error = (tokens - logged) / logged;
            assert!(
                error.abs() < 0.03,
                "{name}: {tokens} tokens, vLLM {logged} ({error:+.3})"
            );
        }
    }
}
