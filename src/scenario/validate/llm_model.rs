//! `spec.workloads[].llm.model` with `gpu`: a server whose step times are costed from the
//! model's architecture (a shipped config or the user's `config.json`) on a GPU of the shipped
//! table, at vLLM's `dtype`, `quantization` and `kvCacheDtype`.

use super::Builder;
use crate::scenario::diag::did_you_mean_hint;
use crate::scenario::raw::RawFiles;
use crate::scenario::raw::RawLlm;
use crate::spec::llm::architecture::Architecture;
use crate::spec::llm::bench::{self, BenchRun, BenchmarkFit};
use crate::spec::llm::catalog;
use crate::spec::llm::profile::LlmProfile;
use crate::spec::llm::roofline::{Coefficients, Precision, RooflineInputs};

impl Builder<'_> {
    /// The profile of `llm.model` on `llm.gpu` split `gpus` ways (the pods' GPU request, unless
    /// `tensorParallel` says otherwise — which the caller checks against the request).
    pub(super) fn roofline_profile(
        &mut self,
        path: &str,
        raw: &RawLlm,
        model: &str,
        gpus: i64,
    ) -> Option<(LlmProfile, Option<BenchmarkFit>)> {
        let arch = self.architecture(&format!("{path}.model"), model);
        let gpu_field = format!("{path}.gpu");
        let Some(gpu_name) = raw.gpu.as_deref() else {
            let names: Vec<&str> = catalog::gpus().keys().map(String::as_str).collect();
            self.error(
                &gpu_field,
                format!("required with model: one of {}", names.join(", ")),
            );
            return None;
        };
        let Some(gpu) = catalog::gpus().get(gpu_name) else {
            let names = catalog::gpus().keys().map(String::as_str);
            let hint = did_you_mean_hint(gpu_name, names.clone());
            let all: Vec<&str> = names.collect();
            self.error(
                &gpu_field,
                format!(
                    "no GPU {gpu_name:?}{hint}: kubesim knows {}",
                    all.join(", ")
                ),
            );
            return None;
        };
        let arch = arch?;
        let tp = u64::from(raw.tensor_parallel.unwrap_or(gpus.clamp(1, 1024) as u32));
        if !self.splits_evenly(path, &arch, tp) {
            return None;
        }
        let precision = self.precision(path, raw, &arch, gpu.fp8_flops_per_second.is_some())?;
        let coefficients = self.coefficients(path, raw, gpu_name)?;
        let name = format!("{}/{gpu_name}/tp{tp}", model_label(model));
        let profile = catalog::roofline_profile(name, &arch, precision, gpu, tp, &coefficients);
        let benchmark = match &raw.benchmark {
            None => None,
            Some(files) => Some(BenchmarkFit {
                inputs: RooflineInputs::new(&arch, precision, gpu, tp),
                start: coefficients,
                runs: self.benchmark_runs(&format!("{path}.benchmark"), files)?,
            }),
        };
        Some((profile, benchmark))
    }

    /// `llm.benchmark`: the runs of every result file.
    fn benchmark_runs(&mut self, field: &str, files: &RawFiles) -> Option<Vec<BenchRun>> {
        let names: Vec<&String> = match files {
            RawFiles::One(f) => vec![f],
            RawFiles::Many(list) => list.iter().collect(),
        };
        if names.is_empty() {
            self.error(
                field,
                "an empty list: name the result files of vllm bench serve --save-result",
            );
            return None;
        }
        let mut runs = Vec::new();
        for (i, rel) in names.into_iter().enumerate() {
            let at = match files {
                RawFiles::One(_) => field.to_string(),
                RawFiles::Many(_) => format!("{field}[{i}]"),
            };
            let (shown, text) = self.read_relative(&at, rel, "the benchmark result")?;
            match bench::parse_vllm_bench(&shown, &text) {
                Ok(more) => runs.extend(more),
                Err(e) => {
                    self.error(&at, e);
                    return None;
                }
            }
        }
        Some(runs)
    }

    /// The GPU's fitted coefficients with `llm.roofline`'s overrides.
    fn coefficients(&mut self, path: &str, raw: &RawLlm, gpu: &str) -> Option<Coefficients> {
        let (mut k, _fitted_on_this_gpu) = catalog::coefficients(gpu);
        let Some(o) = raw.roofline.as_ref() else {
            return Some(k);
        };
        let mut ok = true;
        let mut set =
            |name: &str, value: Option<f64>, max: f64, above_zero: bool, slot: &mut f64| {
                let Some(v) = value else { return };
                let low_ok = if above_zero { v > 0.0 } else { v >= 0.0 };
                if v.is_finite() && low_ok && v <= max {
                    *slot = v;
                } else {
                    let low = if above_zero { "above 0" } else { "from 0" };
                    self.error(
                        &format!("{path}.roofline.{name}"),
                        format!("{v} is out of range: {low} to {max}"),
                    );
                    ok = false;
                }
            };
        set(
            "computeEfficiency",
            o.compute_efficiency,
            1.0,
            true,
            &mut k.compute_efficiency,
        );
        set(
            "memoryEfficiency",
            o.memory_efficiency,
            1.0,
            true,
            &mut k.memory_efficiency,
        );
        set(
            "stepOverheadUs",
            o.step_overhead_us,
            1e7,
            false,
            &mut k.step_overhead_us,
        );
        set(
            "allReduceUs",
            o.all_reduce_us,
            1e6,
            false,
            &mut k.all_reduce_us,
        );
        ok.then_some(k)
    }

    /// A shipped model's architecture, or a `config.json` relative to the scenario.
    fn architecture(&mut self, field: &str, model: &str) -> Option<Architecture> {
        if !model.ends_with(".json") {
            if let Some(arch) = catalog::model(model) {
                return Some(arch);
            }
            let hint = did_you_mean_hint(model, catalog::model_names());
            let names: Vec<&str> = catalog::model_names().collect();
            self.error(field, format!("no model {model:?}{hint}: kubesim ships {}, or name a Hugging Face config.json relative to the scenario", names.join(", ")));
            return None;
        }
        let (shown, text) = self.read_relative(field, model, "the model's config")?;
        match Architecture::from_config_json(&text) {
            Ok(arch) => Some(arch),
            Err(e) => {
                self.error(field, format!("{shown}: {}: {}", e.field, e.message));
                None
            }
        }
    }

    /// Whether `tp` GPUs can split the model's heads (vLLM needs the attention heads divisible
    /// by `tp`, and the KV heads divisible by it or it by them).
    fn splits_evenly(&mut self, path: &str, arch: &Architecture, tp: u64) -> bool {
        let field = format!("{path}.tensorParallel");
        if tp == 0 || !arch.attention_heads.is_multiple_of(tp) {
            self.error(
                &field,
                format!(
                    "{tp} does not divide the model's {} attention heads",
                    arch.attention_heads
                ),
            );
            return false;
        }
        let kv = arch.kv_heads;
        if !(kv.is_multiple_of(tp) || tp.is_multiple_of(kv)) {
            self.error(&field, format!("{tp} GPUs cannot share the model's {kv} key/value heads: use a divisor or a multiple of {kv}"));
            return false;
        }
        true
    }

    /// Bytes per weight and per KV element from vLLM's `dtype`, `quantization` (default: the
    /// checkpoint's), `kvCacheDtype`.
    fn precision(
        &mut self,
        path: &str,
        raw: &RawLlm,
        arch: &Architecture,
        gpu_has_fp8: bool,
    ) -> Option<Precision> {
        let mut p = Precision::BF16;
        match raw.dtype.as_deref().unwrap_or("auto") {
            "auto" | "bfloat16" | "bf16" | "float16" | "half" | "fp16" => {}
            other => {
                self.error(
                    &format!("{path}.dtype"),
                    format!("{other:?} is not one of auto, bfloat16, float16"),
                );
                return None;
            }
        }
        match raw.quantization.as_deref().or(arch.quantization.as_deref()) {
            None | Some("none") => {}
            Some("fp8") => {
                p.weight_bytes = 1.0;
                p.expert_weight_bytes = 1.0;
                // Without FP8 tensor cores (A100, A10G) vLLM runs FP8 weights as W8A16.
                p.fp8_compute = gpu_has_fp8;
            }
            // gpt-oss: the experts in MXFP4 (4-bit values, an 8-bit scale per 32), the rest BF16.
            Some("mxfp4") => p.expert_weight_bytes = 4.25 / 8.0,
            Some(other) => {
                self.error(
                    &format!("{path}.quantization"),
                    format!("{other:?} is not modelled: none, fp8 or mxfp4"),
                );
                return None;
            }
        }
        match raw.kv_cache_dtype.as_deref().unwrap_or("auto") {
            "auto" => {}
            "fp8" | "fp8_e4m3" | "fp8_e5m2" => p.kv_bytes = 1.0,
            other => {
                self.error(
                    &format!("{path}.kvCacheDtype"),
                    format!("{other:?} is not one of auto, fp8, fp8_e4m3, fp8_e5m2"),
                );
                return None;
            }
        }
        Some(p)
    }
}

/// The model's part of a profile name: a shipped name, or the config file's folder or stem.
fn model_label(model: &str) -> &str {
    let path = std::path::Path::new(model);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(model);
    if stem == "config" {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or(stem)
    } else {
        stem
    }
}
