//! A transformer's architecture as its Hugging Face `config.json` describes it, and what a
//! forward pass of it weighs: parameters, bytes, FLOPs per token, KV-cache bytes per token.
//!
//! Read from `config.json` (the keys Hugging Face `transformers` uses): `hidden_size`,
//! `intermediate_size`, `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`
//! (default: the attention heads), `head_dim` (default: hidden ÷ heads), `vocab_size`,
//! `max_position_embeddings`, `tie_word_embeddings`; for mixtures of experts the experts
//! (`num_local_experts` or `num_experts`), the experts each token uses (`num_experts_per_tok`
//! or `experts_per_token`), their size (`moe_intermediate_size`, else `intermediate_size`),
//! a shared expert (`shared_expert_intermediate_size`) and the dense layers among them
//! (`mlp_only_layers`, `decoder_sparse_step`); sliding-window layers (`sliding_window` with
//! `layer_types`, or on every layer when `use_sliding_window` is true).
//!
//! Every MLP is gated (three matrices: gate, up, down), as in Llama, Mistral, Qwen and gpt-oss.
//! Left out: multi-head latent attention (DeepSeek V2/V3, Kimi), linear attention and state-space
//! layers (Qwen3-Next, Jamba, Mamba) and encoder-decoder models; their configs are refused.

use serde_json::{Map, Value};

/// The numbers of one model that the step-time model needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    /// Transformer layers.
    pub layers: u64,
    /// The residual stream's width.
    pub hidden: u64,
    /// Query heads.
    pub attention_heads: u64,
    /// Key/value heads (fewer than the query heads under grouped-query attention).
    pub kv_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// Tokens of the vocabulary (the output projection's rows).
    pub vocab: u64,
    /// The context window (`max_position_embeddings`).
    pub context_tokens: u64,
    /// Whether the output projection is the embedding matrix (not stored twice).
    pub tied_embeddings: bool,
    /// The MLP of dense layers: the width of its hidden layer (0: every layer is MoE).
    pub dense_ffn: u64,
    /// The mixture of experts, when the model has one.
    pub moe: Option<Experts>,
    /// Layers whose attention sees only the last `window` tokens.
    pub sliding: Option<SlidingWindow>,
    /// The checkpoint's quantization (`quantization_config.quant_method`: `fp8`, `mxfp4` …).
    pub quantization: Option<String>,
}

/// A mixture-of-experts MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct Experts {
    /// Routed experts per MoE layer.
    pub experts: u64,
    /// Experts each token is routed to.
    pub per_token: u64,
    /// Width of one expert's hidden layer.
    pub expert_ffn: u64,
    /// Width of the shared expert every token also uses (0: none).
    pub shared_ffn: u64,
    /// MoE layers (the others are dense).
    pub moe_layers: u64,
}

/// Sliding-window attention.
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindow {
    /// Tokens a query sees.
    pub window: u64,
    /// Layers that use it.
    pub layers: u64,
}

/// A field of `config.json` that is missing or wrong, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// The key (e.g. `num_key_value_heads`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Largest value of any count in a config (no model has a dimension near it).
const MAX_DIMENSION: u64 = 1 << 24;

/// Architectures kubesim cannot cost, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "kv_lora_rank",
        "multi-head latent attention (DeepSeek V2/V3)",
    ),
    (
        "linear_num_value_heads",
        "linear-attention layers (Qwen3-Next)",
    ),
    ("mamba_d_state", "state-space layers (Mamba, Jamba)"),
    ("ssm_cfg", "state-space layers"),
    ("is_encoder_decoder", "an encoder-decoder model"),
    ("n_layer", "a BLOOM/GPT-2-style model (non-gated MLP)"),
];

impl Architecture {
    /// Reads the architecture from a `config.json`'s text. Multimodal configs are read from
    /// their `text_config`.
    pub fn from_config_json(text: &str) -> Result<Architecture, ConfigError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("(file)", format!("not JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(ConfigError::new("(file)", "not a JSON object"));
        };
        let config = match top.get("text_config") {
            Some(Value::Object(text)) => text,
            _ => &top,
        };
        Architecture::from_map(config)
    }

    fn from_map(c: &Map<String, Value>) -> Result<Architecture, ConfigError> {
        for (key, what) in UNSUPPORTED {
            if c.get(*key)
                .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
            {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "{what} is not modelled: kubesim costs decoder-only transformers with (grouped-query) attention"
                    ),
                ));
            }
        }
        let layers = count(c, "num_hidden_layers")?;
        let hidden = count(c, "hidden_size")?;
        let attention_heads = count(c, "num_attention_heads")?;
        let kv_heads = optional_count(c, "num_key_value_heads")?.unwrap_or(attention_heads);
        if !attention_heads.is_multiple_of(kv_heads) {
            return Err(ConfigError::new(
                "num_key_value_heads",
                format!("{kv_heads} does not divide num_attention_heads ({attention_heads})"),
            ));
        }
        let head_dim = match optional_count(c, "head_dim")? {
            Some(d) => d,
            None if hidden.is_multiple_of(attention_heads) => hidden / attention_heads,
            None => {
                return Err(ConfigError::new(
                    "head_dim",
                    format!(
                        "missing, and hidden_size {hidden} is not a multiple of num_attention_heads {attention_heads}"
                    ),
                ));
            }
        };
        let moe = experts(c, layers)?;
        let dense_ffn = match (&moe, optional_count(c, "intermediate_size")?) {
            (_, Some(ffn)) => ffn,
            (Some(m), None) if m.moe_layers == layers => 0,
            (_, None) => return Err(ConfigError::new("intermediate_size", "missing")),
        };
        Ok(Architecture {
            layers,
            hidden,
            attention_heads,
            kv_heads,
            head_dim,
            vocab: count(c, "vocab_size")?,
            context_tokens: count(c, "max_position_embeddings")?,
            tied_embeddings: c
                .get("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            dense_ffn,
            sliding: sliding_window(c, layers)?,
            moe,
            quantization: c
                .get("quantization_config")
                .and_then(|q| q.get("quant_method"))
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Parameters of one layer's attention (the Q, K, V and output projections).
    pub fn attention_parameters(&self) -> u64 {
        let q = self.attention_heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        self.hidden * (2 * q + 2 * kv)
    }

    /// Parameters of a gated MLP of hidden width `ffn`.
    fn mlp_parameters(&self, ffn: u64) -> u64 {
        3 * self.hidden * ffn
    }

    fn dense_layers(&self) -> u64 {
        self.layers - self.moe.as_ref().map_or(0, |m| m.moe_layers)
    }

    /// Every parameter: embeddings, layers, the output projection (when not tied).
    pub fn parameters(&self) -> u64 {
        let embeddings = self.vocab * self.hidden * if self.tied_embeddings { 1 } else { 2 };
        embeddings + self.layer_parameters()
    }

    /// Parameters of all layers (what each step streams, together with the output projection).
    pub fn layer_parameters(&self) -> u64 {
        self.layer_parameters_with(|m| m.experts)
    }

    /// Parameters of the routed experts (0 for a dense model): the part of the weights a step
    /// reads only where its tokens are routed.
    pub fn expert_parameters(&self) -> u64 {
        self.moe.as_ref().map_or(0, |m| {
            m.moe_layers * m.experts * self.mlp_parameters(m.expert_ffn)
        })
    }

    /// Parameters one token multiplies with in the layers: attention, the dense MLPs, and in
    /// MoE layers the router, the shared expert and its `per_token` experts.
    pub fn active_layer_parameters(&self) -> u64 {
        self.layer_parameters_with(|m| m.per_token)
    }

    /// The layers' parameters counting `routed(experts)` routed experts in each MoE layer.
    fn layer_parameters_with(&self, routed: impl Fn(&Experts) -> u64) -> u64 {
        let dense = self.dense_layers() * self.mlp_parameters(self.dense_ffn);
        let moe = self.moe.as_ref().map_or(0, |m| {
            m.moe_layers
                * (routed(m) * self.mlp_parameters(m.expert_ffn)
                    + self.mlp_parameters(m.shared_ffn)
                    + m.experts * self.hidden)
        });
        self.layers * self.attention_parameters() + dense + moe
    }

    /// Key and value elements one token of context holds over all layers.
    pub fn kv_elements_per_token(&self) -> u64 {
        2 * self.layers * self.kv_heads * self.head_dim
    }

    /// Layers with full (not sliding-window) attention.
    pub fn full_attention_layers(&self) -> u64 {
        self.layers - self.sliding.as_ref().map_or(0, |s| s.layers)
    }
}

fn optional_count(c: &Map<String, Value>, key: &str) -> Result<Option<u64>, ConfigError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_DIMENSION).contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::new(
                key,
                format!("{v} is not a count from 1 to {MAX_DIMENSION}"),
            )),
        },
    }
}

fn count(c: &Map<String, Value>, key: &str) -> Result<u64, ConfigError> {
    optional_count(c, key)?.ok_or_else(|| ConfigError::new(key, "missing"))
}

/// The first of `keys` the config has.
fn first_count(c: &Map<String, Value>, keys: &[&str]) -> Result<Option<u64>, ConfigError> {
    for key in keys {
        if let Some(n) = optional_count(c, key)? {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn experts(c: &Map<String, Value>, layers: u64) -> Result<Option<Experts>, ConfigError> {
    let Some(experts) = first_count(c, &["num_local_experts", "num_experts", "n_routed_experts"])?
    else {
        return Ok(None);
    };
    let per_token =
        first_count(c, &["num_experts_per_tok", "experts_per_token"])?.ok_or_else(|| {
            ConfigError::new("num_experts_per_tok", "missing for a model with experts")
        })?;
    if per_token > experts {
        return Err(ConfigError::new(
            "num_experts_per_tok",
            format!("{per_token} is more than the {experts} experts"),
        ));
    }
    let expert_ffn =
        first_count(c, &["moe_intermediate_size", "intermediate_size"])?.ok_or_else(|| {
            ConfigError::new("moe_intermediate_size", "missing for a model with experts")
        })?;
    let shared_ffn = optional_count(c, "shared_expert_intermediate_size")?.unwrap_or(0);
    Ok(Some(Experts {
        experts,
        per_token,
        expert_ffn,
        shared_ffn,
        moe_layers: moe_layers(c, layers)?,
    }))
}

/// MoE layers: every `decoder_sparse_step`-th layer (1 by default) not in `mlp_only_layers`.
fn moe_layers(c: &Map<String, Value>, layers: u64) -> Result<u64, ConfigError> {
    let step = optional_count(c, "decoder_sparse_step")?.unwrap_or(1);
    let dense: Vec<u64> = match c.get("mlp_only_layers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_u64().filter(|&i| i < layers))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ConfigError::new(
                    "mlp_only_layers",
                    format!("not a list of layer indices below {layers}"),
                )
            })?,
        Some(v) => {
            return Err(ConfigError::new(
                "mlp_only_layers",
                format!("{v} is not a list of layer indices"),
            ));
        }
    };
    Ok((0..layers)
        .filter(|i| (i + 1).is_multiple_of(step) && !dense.contains(i))
        .count() as u64)
}

fn sliding_window(
    c: &Map<String, Value>,
    layers: u64,
) -> Result<Option<SlidingWindow>, ConfigError> {
    let Some(window) = optional_count(c, "sliding_window")? else {
        return Ok(None);
    };
    let sliding_layers = match c.get("layer_types") {
        Some(Value::Array(types)) => {
            if types.len() as u64 != layers {
                return Err(ConfigError::new(
                    "layer_types",
                    format!("{} entries for {layers} layers", types.len()),
                ));
            }
            types
                .iter()
                .filter(|t| t.as_str() == Some("sliding_attention"))
                .count() as u64
        }
        _ => match c.get("use_sliding_window") {
            Some(Value::Bool(false)) => 0,
            // Mistral 7B v0.1 sets a window on every layer without the switch.
            _ => layers,
        },
    };
    Ok(
        (sliding_layers > 0 && window < MAX_DIMENSION).then_some(SlidingWindow {
            window,
            layers: sliding_layers,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA_3_1_8B: &str = r#"{"hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "vocab_size": 128256, "max_position_embeddings": 131072, "tie_word_embeddings": false}"#;

    #[test]
    fn llama_3_1_8b_has_eight_billion_parameters() {
        let a = Architecture::from_config_json(LLAMA_3_1_8B).unwrap();
        assert_eq!(a.head_dim, 128); // 4096 / 32
        // Attention 4096 × (2 × 4096 + 2 × 1024) = 41 943 040, MLP 3 × 4096 × 14336 =
        // 176 160 768: 218 103 808 a layer, × 32 = 6 979 321 856; embeddings and output
        // projection 2 × 128256 × 4096 = 1 050 673 152.
        assert_eq!(a.layer_parameters(), 6_979_321_856);
        // 8 029 995 008: the published 8 030 261 248 less the norms' 65 × 4096 (left out).
        assert_eq!(a.parameters(), 8_029_995_008);
        assert_eq!(a.active_layer_parameters(), a.layer_parameters());
        // 2 × 32 layers × 8 KV heads × 128 = 65 536 elements (128 KiB in BF16).
        assert_eq!(a.kv_elements_per_token(), 65_536);
    }

    #[test]
    fn a_mixture_of_experts_counts_all_experts_but_activates_top_k() {
        // Mixtral 8x7B: 32 layers, 8 experts of 14 336, 2 per token.
        let a = Architecture::from_config_json(
            r#"{"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
            "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2}"#,
        )
        .unwrap();
        let m = a.moe.as_ref().unwrap();
        assert_eq!((m.experts, m.per_token, m.moe_layers), (8, 2, 32));
        // Per layer: attention 41 943 040 + router 8 × 4096 + 8 × 176 160 768 = 1 451 261 952;
        // × 32 = 46 440 382 464; + 2 × 32000 × 4096 embeddings = 46 702 526 464 (46.7 B).
        assert_eq!(a.parameters(), 46_702_526_464);
        // Active: 41 943 040 + 32 768 + 2 × 176 160 768 = 394 297 344 per layer, × 32.
        assert_eq!(a.active_layer_parameters(), 12_617_515_008);
    }

    #[test]
    fn qwen3_moe_sizes_its_experts_by_moe_intermediate_size() {
        let a = Architecture::from_config_json(
            r#"{"hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
            "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4,
            "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
            "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1,
            "mlp_only_layers": [], "tie_word_embeddings": false}"#,
        )
        .unwrap();
        let m = a.moe.as_ref().unwrap();
        assert_eq!((m.expert_ffn, m.moe_layers), (768, 48));
        // Attention 2048 × (2 × 4096 + 2 × 512) = 18 874 368; experts 128 × 3 × 2048 × 768 =
        // 603 979 776; router 262 144: 623 116 288 a layer, × 48 = 29 909 581 824; embeddings
        // 2 × 151936 × 2048 = 622 329 856 → 30 531 911 680 (30.5 B).
        assert_eq!(a.parameters(), 30_531_911_680);
        // Active: 18 874 368 + 8 × 4 718 592 + 262 144 = 56 885 248 per layer (3.3 B with
        // the embeddings: "A3B").
        assert_eq!(a.active_layer_parameters(), 48 * 56_885_248);
    }

    #[test]
    fn sliding_layers_are_counted_from_layer_types() {
        let a = Architecture::from_config_json(
            r#"{"hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 4,
            "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
            "vocab_size": 201088, "max_position_embeddings": 131072, "num_local_experts": 32,
            "experts_per_token": 4, "sliding_window": 128, "layer_types": ["sliding_attention",
            "full_attention", "sliding_attention", "full_attention"]}"#,
        )
        .unwrap();
        assert_eq!(
            a.sliding,
            Some(SlidingWindow {
                window: 128,
                layers: 2
            })
        );
        assert_eq!(a.full_attention_layers(), 2);
        assert_eq!(a.moe.unwrap().per_token, 4);
    }

    #[test]
    fn missing_or_wrong_fields_are_named() {
        let err = |text: &str| Architecture::from_config_json(text).unwrap_err();
        assert_eq!(err(r#"{"hidden_size": 4096}"#).field, "num_hidden_layers");
        let e =
            err(&LLAMA_3_1_8B.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"));
        assert_eq!(e.field, "num_key_value_heads");
        assert!(e.message.contains("does not divide"), "{}", e.message);
        let e = err(&LLAMA_3_1_8B.replace("4096,", "-1,"));
        assert_eq!(e.field, "hidden_size");
        let e = err(&LLAMA_3_1_8B.replace("{", "{\"kv_lora_rank\": 512,"));
        assert!(e.message.contains("latent attention"), "{}", e.message);
        assert_eq!(err("[1]").message, "not a JSON object");
        let e = err(&LLAMA_3_1_8B.replace("{", "{\"num_local_experts\": 8,"));
        assert_eq!(e.field, "num_experts_per_tok");
    }
}
