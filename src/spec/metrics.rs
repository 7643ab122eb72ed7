//! The per-pod metrics a workload's pods export for Pods metrics (`spec.workloads[].podMetrics`,
//! an HPA's `pods` metric source); the metrics server (`controllers::metrics_server`)
//! scrapes them.

/// Per-pod metrics the serving model produces, served to Pods metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodMetricSource {
    /// Requests in service or queued at the scrape (a gauge).
    InFlightRequests,
    /// Requests waiting for a concurrency slot at the scrape (a gauge).
    QueueLength,
    /// Completions per second between the last two scrapes (a rate).
    RequestsPerSecond,
    /// An LLM server's requests waiting to be scheduled (`vllm:num_requests_waiting`).
    LlmRequestsWaiting,
    /// An LLM server's requests in its running batch (`vllm:num_requests_running`).
    LlmRequestsRunning,
    /// The fraction of an LLM server's KV cache in use (`vllm:kv_cache_usage_perc`, 0 to 1).
    LlmKvCacheUsage,
    /// Output tokens per second between the last two scrapes (the rate of
    /// `vllm:generation_tokens_total`).
    LlmOutputTokensPerSecond,
}

impl PodMetricSource {
    /// Every source, in the order reports list them.
    pub const ALL: [PodMetricSource; 7] = [
        Self::InFlightRequests,
        Self::QueueLength,
        Self::RequestsPerSecond,
        Self::LlmRequestsWaiting,
        Self::LlmRequestsRunning,
        Self::LlmKvCacheUsage,
        Self::LlmOutputTokensPerSecond,
    ];

    /// Whether only LLM servers export it.
    pub fn is_llm(self) -> bool {
        matches!(
            self,
            Self::LlmRequestsWaiting
                | Self::LlmRequestsRunning
                | Self::LlmKvCacheUsage
                | Self::LlmOutputTokensPerSecond
        )
    }

    /// The built-in metric name an HPA can use directly.
    pub fn builtin_name(self) -> &'static str {
        match self {
            Self::InFlightRequests => "kubesim_in_flight_requests",
            Self::QueueLength => "kubesim_queue_length",
            Self::RequestsPerSecond => "kubesim_requests_per_second",
            Self::LlmRequestsWaiting => "vllm:num_requests_waiting",
            Self::LlmRequestsRunning => "vllm:num_requests_running",
            Self::LlmKvCacheUsage => "vllm:kv_cache_usage_perc",
            Self::LlmOutputTokensPerSecond => "vllm:generation_tokens_per_second",
        }
    }

    /// The spelling used in `spec.workloads[].podMetrics`.
    pub fn scenario_name(self) -> &'static str {
        match self {
            Self::InFlightRequests => "inFlightRequests",
            Self::QueueLength => "queueLength",
            Self::RequestsPerSecond => "requestsPerSecond",
            Self::LlmRequestsWaiting => "requestsWaiting",
            Self::LlmRequestsRunning => "requestsRunning",
            Self::LlmKvCacheUsage => "kvCacheUsage",
            Self::LlmOutputTokensPerSecond => "outputTokensPerSecond",
        }
    }

    /// A built-in name; vLLM's names also match with `_` for `:` (as Prometheus adapters
    /// often rename them).
    pub fn from_builtin_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.builtin_name() == name || s.builtin_name().replacen(':', "_", 1) == name)
    }

    /// The source spelled `name` in `spec.workloads[].podMetrics`.
    pub fn from_scenario_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.scenario_name() == name)
    }
}
