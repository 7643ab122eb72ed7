//! LLM inference serving end to end: token traces and drawn token counts through the batching
//! servers, the token-level report, the HPA on what vLLM exports, and requests that can never
//! fit a server's KV cache.

use kubesim::metrics::report::LlmServiceReport;

use crate::support::{column, load, root, run, run_text};

/// The report of the run's one LLM Service.
fn llm(out: &kubesim::engine::RunOutput) -> &LlmServiceReport {
    (out.report.services.iter())
        .find_map(|s| s.llm.as_ref())
        .expect("an LLM Service has an llm report")
}

#[test]
fn the_azure_trace_is_replayed_request_by_request_with_its_tokens() {
    let path = root().join("scenarios/llm-inference/scenario.yaml");
    let out = run(&load(&path, None, &["duration=10m"]));
    // The trace's rows within the first 10 minutes (times from the first row), each with at
    // least one output token, counted from the file itself.
    let text = std::fs::read_to_string(
        root().join("scenarios/llm-inference/azure-llm-conv-2023-11-16.csv"),
    )
    .unwrap();
    let secs = |ts: &str| -> f64 {
        let t = ts.split(' ').nth(1).unwrap();
        let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let rows: Vec<(f64, u64, u64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                secs(f[0]),
                f[1].parse().unwrap(),
                f[2].parse::<u64>().unwrap().max(1),
            )
        })
        .collect();
    let start = rows[0].0;
    let arrived: Vec<_> = rows.iter().filter(|r| r.0 - start <= 600.0).collect();
    // The trace arrives at the chat API, which passes each turn's tokens to the llama Service.
    let api = &out.report.services[0];
    let s = &out.report.services[1];
    assert_eq!((api.name.as_str(), s.name.as_str()), ("chat-api", "llama"));
    assert!(api.served + api.failed <= arrived.len() as u64);
    assert!(api.served + api.failed + out.report.totals.in_flight_at_end >= arrived.len() as u64);
    assert_eq!(
        s.served, api.served,
        "every answered turn is one served LLM request"
    );
    let report = llm(&out);
    let served_tokens: u64 = report.output_tokens;
    assert!(served_tokens <= arrived.iter().map(|r| r.2).sum::<u64>());
    assert!(report.time_to_first_token_ms.p50 > 0.0);
    assert!(report.time_to_first_token_ms.p50 <= s.latency_ms.p50);
    assert!(report.gpu_hours > 0.0 && report.cost_usd_per_million_output_tokens.is_some());
    // Goodput (TTFT ≤ 2 s and TPOT ≤ 200 ms): some requests, not all, and never more than
    // those served.
    let g = report
        .goodput
        .as_ref()
        .expect("the scenario sets goodput thresholds");
    assert_eq!((g.ttft_ms, g.tpot_ms), (Some(2000.0), Some(200.0)));
    assert!(g.good_requests > 0 && g.good_requests <= s.served);
    assert_eq!(
        g.fraction,
        Some(((g.good_requests as f64 / s.requests as f64) * 1e6).round() / 1e6)
    );
}

#[test]
fn the_hpa_scales_llm_servers_on_requests_waiting() {
    let out = run(&load(
        &root().join("scenarios/llm-inference/scenario.yaml"),
        None,
        &[],
    ));
    let replicas = column(&out, "deployment.llama.replicas");
    let max = replicas.iter().map(|r| r.1).fold(0.0, f64::max);
    // 4 replicas at the start cannot keep up with the trace's prefill load: requests wait, and
    // the HPA on vllm:num_requests_waiting (target 2 per pod) adds replicas.
    assert!(max > 4.0, "replicas never grew: {replicas:?}");
}

/// The Llama Deployment (one pod of 8 GPUs) and its Service, after a scenario document.
macro_rules! llama_manifests {
    () => {
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {name: llama}
spec:
  replicas: 1
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai
          resources:
            requests: {cpu: "8", nvidia.com/gpu: 8}
            limits: {nvidia.com/gpu: 8}
---
apiVersion: v1
kind: Service
metadata: {name: llama}
spec:
  selector: {app: llama}
"#
    };
}

const DRAWN: &str = concat!(
    r#"
apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: llm-drawn}
spec:
  duration: 10m
  seed: 3
  cluster:
    nodePools:
      - name: gpu
        count: 1
        allocatable: {cpu: "96", memory: 1Ti, pods: 50, nvidia.com/gpu: 8}
        pricePerHour: 40
  workloads:
    - deployment: llama
      startupTime: 1s
      llm: {profile: llama2-70b/h100-80gb/tp8, kvCacheBlocks: BLOCKS, maxModelLen: 32768}
  traffic:
    - service: llama
      arrivals: {constant: {rate: 2}}
      tokens: {prompt: PROMPT, output: {uniform: {min: 50, max: 150}}}
"#,
    llama_manifests!()
);

fn drawn(name: &str, prompt: &str, blocks: &str) -> kubesim::engine::RunOutput {
    run_text(
        name,
        &DRAWN.replace("PROMPT", prompt).replace("BLOCKS", blocks),
    )
}

#[test]
fn drawn_token_counts_are_served_and_the_same_seed_gives_the_same_report() {
    let a = drawn("llm-drawn-a", "{logNormal: {mean: 800, cv: 1}}", "20000");
    let b = drawn("llm-drawn-b", "{logNormal: {mean: 800, cv: 1}}", "20000");
    let report = llm(&a);
    // About 2 requests/s for 600 s with outputs of 100 tokens on average: ~120 000 tokens
    // (the Poisson count and the uniform draws put it well within ±15 %).
    let out = report.output_tokens as f64;
    assert!((102_000.0..138_000.0).contains(&out), "{out}");
    // The pod holds its 8 GPUs from its binding at t = 0 to the end: 8 × 600 s = 4 800
    // GPU-seconds = 1.333 GPU-hours.
    assert!(
        (report.gpu_hours - 8.0 / 6.0).abs() < 0.01,
        "{}",
        report.gpu_hours
    );
    assert_eq!(
        serde_json::to_string(&a.report).unwrap(),
        serde_json::to_string(&b.report).unwrap()
    );
}

#[test]
fn prompts_that_can_never_fit_the_kv_cache_fail_as_prompt_too_long() {
    // 10 blocks of 16 tokens hold 160 tokens; every prompt has 1 000.
    let out = drawn("llm-too-long", "1000", "10");
    let s = &out.report.services[0];
    assert!(s.requests > 0);
    assert_eq!(s.failed_by_reason["prompt_too_long"], s.requests);
}

#[test]
fn a_small_kv_cache_preempts_and_the_time_series_shows_the_servers() {
    // 300 blocks hold 4 800 tokens; about 2 requests/s of ~900 tokens each staying ~5 s keep
    // some 10 sequences (9 000 tokens) in flight: decodes run out of blocks and the newest
    // sequences are preempted, then prefill again — and every request still finishes but
    // those that alone need more than the cache (the log-normal's tail).
    let out = drawn("llm-preempt", "{logNormal: {mean: 800, cv: 1}}", "300");
    let s = &out.report.services[0];
    assert!(llm(&out).preemptions > 0, "no preemption");
    assert_eq!(s.failed, s.failed_by_reason["prompt_too_long"]);
    assert!(
        s.failed * 50 < s.requests,
        "{} of {} failed",
        s.failed,
        s.requests
    );
    let kv = column(&out, "deployment.llama.kv_cache_usage");
    assert!(kv.iter().any(|(_, v)| *v > 0.5), "{kv:?}");
    assert!(kv.iter().all(|(_, v)| (0.0..=1.0).contains(v)));
    let running = column(&out, "deployment.llama.llm_running");
    assert!(running.iter().any(|(_, v)| *v >= 2.0), "{running:?}");
    // The report sums the column up: its mean over the samples and its largest value.
    let mean = kv.iter().map(|(_, v)| v).sum::<f64>() / kv.len() as f64;
    let max = kv.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let l = llm(&out);
    assert!(
        (l.kv_cache_usage_mean.unwrap() - mean).abs() < 0.001,
        "{l:?} vs {mean}"
    );
    assert!(
        (l.kv_cache_usage_max.unwrap() - max).abs() < 0.001,
        "{l:?} vs {max}"
    );
}

#[test]
fn least_request_routing_spreads_llm_requests_by_what_each_server_holds() {
    let text = DRAWN
        .replace("PROMPT", "{logNormal: {mean: 800, cv: 1}}")
        .replace("BLOCKS", "20000")
        .replace("replicas: 1", "replicas: 2")
        .replace("count: 1", "count: 2")
        .replace(
            "arrivals: {constant: {rate: 2}}",
            "arrivals: {constant: {rate: 2}}\n      loadBalancing: LeastRequest",
        );
    let a = run_text("llm-least-a", &text);
    let b = run_text("llm-least-b", &text);
    assert_eq!(a.report.services[0].failed, 0);
    assert_eq!(
        serde_json::to_string(&a.report).unwrap(),
        serde_json::to_string(&b.report).unwrap()
    );
}

#[test]
fn an_external_queue_depth_metric_sums_the_waiting_requests_of_the_pods() {
    // The first 20 minutes with the HPA reading the Deployment's total queue (an adapter's
    // `sum(vllm:num_requests_waiting)`) against a Value target of 1: the 4 pods' queues hold
    // up to 3 requests together now and then, 3× the target, so the HPA adds replicas.
    let external = "hpa/llama:spec.metrics[0]={type: External, external: {metric: {name: \"vllm:num_requests_waiting\"}, target: {type: Value, value: \"1\"}}}";
    let path = root().join("scenarios/llm-inference/scenario.yaml");
    let out = run(&load(&path, None, &["duration=20m", external]));
    let replicas = column(&out, "deployment.llama.replicas");
    let max = replicas.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!(max > 4.0, "replicas never grew: {replicas:?}");
    let waiting = column(&out, "deployment.llama.llm_waiting");
    assert!(waiting.iter().any(|(_, w)| *w >= 2.0), "{waiting:?}");
}

#[test]
fn prefix_aware_routing_finds_the_mooncake_traces_shared_prefixes() {
    // The first 1 000 Mooncake conversation requests on 8 servers. Prefix caching is on by
    // default; the trace's hash_ids say which 512-token prompt blocks repeat. Routing each
    // request to the pod that holds most of its prompt (PrefixAware) finds far more of them
    // than spreading by load alone, and the prompts computed less make the first tokens come
    // sooner; without prefix caching nothing is found.
    let path = root().join("benches/scenarios/llm-mooncake/scenario.yaml");
    let with = |lb: &str, caching: &str| {
        let overrides = [
            format!("traffic[0].loadBalancing={lb}"),
            format!("workloads[0].llm.prefixCaching={caching}"),
        ];
        let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
        llm(&run(&load(&path, None, &refs))).clone()
    };
    let least = with("LeastRequest", "true");
    let aware = with("PrefixAware", "true");
    let off = with("LeastRequest", "false");
    let rate = |r: &LlmServiceReport| r.prefix_cache_hit_rate.unwrap();
    assert_eq!(rate(&off), 0.0);
    assert!(rate(&least) > 0.02, "{}", rate(&least));
    assert!(
        rate(&aware) > 2.0 * rate(&least),
        "{} vs {}",
        rate(&aware),
        rate(&least)
    );
    assert!(aware.time_to_first_token_ms.p50 < least.time_to_first_token_ms.p50);
    assert!(least.time_to_first_token_ms.p50 < off.time_to_first_token_ms.p50);
    assert_eq!(
        aware.prompt_tokens, off.prompt_tokens,
        "every request is served either way"
    );
}

/// An agent API (CPU) whose every request calls the LLM Service once with drawn tokens.
const AGENT: &str = concat!(
    r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: agent-calls-llm}
spec:
  duration: 10m
  cluster:
    nodePools:
      - {name: cpu, count: 2, allocatable: {cpu: "16", memory: 64Gi}}
      - {name: gpu, count: 1, allocatable: {cpu: "190", memory: 2000Gi, nvidia.com/gpu: 8}}
  workloads:
    - deployment: agent
      cpuPerRequest: 5ms
      concurrency: 64
      timeout: 5m
      calls:
        - call: llama
          tokens: {prompt: {uniform: {min: 500, max: 1500}}, output: 100}
          timeout: TIMEOUT
    - deployment: llama
      llm: {profile: llama2-70b/h100-80gb/tp8, maxModelLen: 32768}
  traffic:
    - service: agent
      arrivals: {constant: {rate: 1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  replicas: 1
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - name: agent
          resources: {requests: {cpu: "2"}}
---
apiVersion: v1
kind: Service
metadata: {name: agent}
spec:
  selector: {app: agent}
"#,
    llama_manifests!()
);

#[test]
fn an_agent_calls_the_llm_server_and_waits_for_its_answer() {
    // About 600 agent requests, each one LLM call of 500–1 500 prompt tokens and 100 output
    // tokens: every LLM request is a call, and each agent request lasts at least its call.
    let out = run_text("llm-agent-calls", &AGENT.replace("TIMEOUT", "2m"));
    let agent = &out.report.services[0];
    let llama = &out.report.services[1];
    assert_eq!(agent.name, "agent");
    assert!(agent.served > 500 && agent.failed == 0, "{agent:?}");
    let l = llama.llm.as_ref().unwrap();
    assert_eq!(llama.served, agent.served);
    assert_eq!(l.output_tokens, 100 * llama.served);
    assert!(
        agent.latency_ms.p50
            >= l.time_to_first_token_ms.p50 + 99.0 * l.time_per_output_token_ms.p50 * 0.9
    );
    // A call timeout shorter than any answer: every agent request fails downstream, after
    // waiting for its call's timeout; the LLM still serves what it was sent.
    let out = run_text("llm-agent-timeouts", &AGENT.replace("TIMEOUT", "100ms"));
    let agent = &out.report.services[0];
    assert_eq!(agent.served, 0);
    let timeouts = agent.failed_by_reason["downstream_timeout"];
    assert!(timeouts > 500, "{:?}", agent.failed_by_reason);
}

#[test]
fn a_trace_passes_through_two_workloads_to_the_llm_server_with_its_tokens() {
    // Thirty Mooncake-style requests, one a second, with different prompt and output lengths;
    // every prompt's first two 512-token blocks are the same (hash ids 0 and 1). They arrive at
    // a gateway, which calls an agent with `tokens: request`, which calls llama the same way:
    // llama serves each request once, with exactly the trace's tokens, and finds the shared
    // blocks in its cache (so the hashes came along too).
    let dir = crate::support::scratch("llm-tokens-passed-on");
    let rows: Vec<(u32, u32)> = (0..30).map(|i| (1100 + 37 * i, 20 + i)).collect();
    let trace: String = (rows.iter().enumerate())
        .map(|(i, (prompt, output))| {
            format!("{{\"timestamp\": {}, \"input_length\": {prompt}, \"output_length\": {output}, \"hash_ids\": [0, 1, {}]}}\n", i * 1000, 100 + i)
        })
        .collect();
    std::fs::write(dir.join("trace.jsonl"), trace).unwrap();
    let hop = |name: &str, next: &str| {
        format!(
            "    - deployment: {name}\n      cpuPerRequest: 2ms\n      timeout: 5m\n      calls:\n        - {{call: {next}, tokens: request, timeout: 4m}}\n"
        )
    };
    let text = format!(
        "{}{}{}{}",
        r#"apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {name: tokens-passed-on}
spec:
  duration: 10m
  cluster:
    nodePools:
      - {name: cpu, count: 1, allocatable: {cpu: "16", memory: 64Gi}}
      - {name: gpu, count: 1, allocatable: {cpu: "190", memory: 2000Gi, nvidia.com/gpu: 8}}
  workloads:
    - deployment: llama
      llm: {profile: llama2-70b/h100-80gb/tp8}
"#,
        hop("gateway", "agent") + &hop("agent", "llama"),
        r#"  traffic:
    - service: gateway
      arrivals: {llmTrace: {file: trace.jsonl}}
"#,
        ["gateway", "agent"]
            .map(|name| crate::support::deployment_and_service(name, 1, "1"))
            .concat()
            + llama_manifests!()
    );
    std::fs::write(dir.join("scenario.yaml"), text).unwrap();
    let out = run(&load(&dir.join("scenario.yaml"), None, &[]));
    let names: Vec<&str> = out
        .report
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["gateway", "agent", "llama"]);
    for s in &out.report.services {
        assert_eq!((s.served, s.failed), (30, 0), "{}", s.name);
    }
    let l = llm(&out);
    let sum = |f: fn(&(u32, u32)) -> u32| rows.iter().map(|r| u64::from(f(r))).sum::<u64>();
    assert_eq!(l.prompt_tokens, sum(|r| r.0));
    assert_eq!(l.output_tokens, sum(|r| r.1));
    // 29 requests after the first find blocks 0 and 1 (1 024 tokens) cached.
    assert_eq!(l.prefix_cached_tokens, 29 * 1024);
}

#[test]
fn benchmark_runs_fit_the_step_time_model_back_to_the_coefficients_behind_them() {
    // tests/fixtures/llm-bench: two runs made by kubesim itself at computeEfficiency 0.5,
    // memoryEfficiency 0.7 and stepOverheadUs 2000 (its README); the fit starts from the L4's
    // shipped coefficients (0.6, 0.8, 1000) and must find them again.
    let out = crate::support::kubesim(&["validate", "tests/fixtures/llm-bench/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| -> f64 {
        let at = text
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            + key.len();
        let rest = text[at..].trim_start();
        let end = rest.find([',', ' ']).unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    assert!((value("computeEfficiency") - 0.5).abs() < 0.03, "{text}");
    assert!((value("memoryEfficiency") - 0.7).abs() < 0.03, "{text}");
    assert!((value("stepOverheadUs") - 2000.0).abs() < 300.0, "{text}");
    assert!(value("TTFT") >= 0.0); // the per-run lines are there
    let mean = text
        .lines()
        .find(|l| l.contains("mean absolute error"))
        .unwrap();
    assert!(
        mean.contains("TTFT 0.") || mean.contains("TTFT 1."),
        "{mean}"
    );
}
