//! A user's own benchmark runs of an LLM server (`llm.benchmark`): the result files of
//! `vllm bench serve --save-result`, read into what a fit of the step-time model needs — how
//! each run sent its requests, their token counts, and the mean time to first token and per
//! output token it measured. The fit itself replays them (`traffic::llm::calibrate`).
//!
//! A file holds one JSON object, or several one per line (`--append-result`). From each:
//! `request_rate` (a number, or `"inf"`: all at once, or `max_concurrency` clients in a closed
//! loop), `completed`, `mean_ttft_ms`, `mean_tpot_ms`, and the token counts — per request from
//! `input_lens`/`output_lens` (`--save-detailed`; failed requests, with an `errors` entry or no
//! output, left out), else every request at the means `total_input_tokens / completed` and
//! `total_output_tokens / completed`. A finite rate with `max_concurrency` is replayed as the
//! rate alone (the cap is not modelled). The fit replays a run's first [`FIT_REQUESTS`]
//! requests, enough for its means to settle, so that a long run cannot make it slow.

use serde_json::Value;

use super::roofline::{Coefficients, RooflineInputs};

/// How a benchmark run sent its requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BenchLoad {
    /// Poisson arrivals at this many requests per second.
    Rate(f64),
    /// This many clients, each sending its next request when the last is answered.
    Concurrency(u32),
}

/// One measured benchmark run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRun {
    /// Where it came from (`file` or `file, object N`), for messages.
    pub name: String,
    /// How it sent its requests.
    pub load: BenchLoad,
    /// Each request's (prompt, output) tokens, in the order sent.
    pub requests: Vec<(u32, u32)>,
    /// Mean time to first token, ms.
    pub ttft_ms: f64,
    /// Mean time per output token after the first, ms.
    pub tpot_ms: f64,
}

/// What a run fits the roofline on: the model's weights on its GPUs, the coefficients the
/// search starts from (the GPU's shipped ones), and the runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchmarkFit {
    /// The model's weights on its GPUs, before the coefficients.
    pub inputs: RooflineInputs,
    /// Where the search starts (and `allReduceUs`, which it keeps).
    pub start: Coefficients,
    /// The measured runs.
    pub runs: Vec<BenchRun>,
}

/// Most requests a run may list, and most runs all files may hold.
const MAX_REQUESTS: u64 = 1_000_000;
/// Requests of a run replayed by the fit: the first this many (each of the fit's ~200
/// replays of every run must stay short: a run of 2 000 requests replays in milliseconds).
pub const FIT_REQUESTS: usize = 2000;
const MAX_RUNS: usize = 1000;
/// Most tokens a request may have.
const MAX_TOKENS: f64 = 16_777_216.0;

/// The runs of one result file's text, named after `file`.
pub fn parse_vllm_bench(file: &str, text: &str) -> Result<Vec<BenchRun>, String> {
    let mut runs = Vec::new();
    let objects = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (i, value) in objects.enumerate() {
        let value = value.map_err(|e| format!("not vllm bench serve JSON: {e}"))?;
        let name = if i == 0 {
            file.to_string()
        } else {
            format!("{file}, object {}", i + 1)
        };
        runs.push(run(&name, &value).map_err(|e| format!("{name}: {e}"))?);
        if runs.len() > MAX_RUNS {
            return Err(format!("more than {MAX_RUNS} runs"));
        }
    }
    if runs.is_empty() {
        return Err(
            "no run in the file (expected the JSON of vllm bench serve --save-result)".into(),
        );
    }
    Ok(runs)
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    match v.get(key) {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("{key}: {n} is not a number ≥ 0")),
        Some(other) => Err(format!("{key}: {other} is not a number")),
        None => Err(format!(
            "{key}: missing (is this the JSON of vllm bench serve --save-result?)"
        )),
    }
}

fn run(name: &str, v: &Value) -> Result<BenchRun, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let completed = number(v, "completed")?;
    if completed < 1.0 || completed > MAX_REQUESTS as f64 {
        return Err(format!(
            "completed: {completed} is out of range: 1 to {MAX_REQUESTS}"
        ));
    }
    let ttft_ms = number(v, "mean_ttft_ms")?;
    let tpot_ms = number(v, "mean_tpot_ms")?;
    if ttft_ms <= 0.0 || tpot_ms <= 0.0 {
        return Err("mean_ttft_ms and mean_tpot_ms must be above 0".into());
    }
    let mut requests = requests(v, completed as u64)?;
    requests.truncate(FIT_REQUESTS);
    Ok(BenchRun {
        name: name.to_string(),
        load: load(v, requests.len())?,
        requests,
        ttft_ms,
        tpot_ms,
    })
}

fn load(v: &Value, requests: usize) -> Result<BenchLoad, String> {
    let concurrency = match v.get("max_concurrency") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_u64()
                .filter(|c| (1..=100_000).contains(c))
                .ok_or_else(|| format!("max_concurrency: {c} is not a count from 1 to 100000"))?
                as u32,
        ),
    };
    match v.get("request_rate") {
        Some(Value::String(s)) if s == "inf" => Ok(BenchLoad::Concurrency(
            concurrency.unwrap_or(requests as u32),
        )),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(r) if r.is_finite() && r > 0.0 && r <= 1e6 => Ok(BenchLoad::Rate(r)),
            _ => Err(format!("request_rate: {n} is not a rate above 0")),
        },
        Some(other) => Err(format!(
            "request_rate: {other} is neither a number nor \"inf\""
        )),
        None => Err("request_rate: missing".into()),
    }
}

/// Each request's tokens: from the detailed arrays, or all at the run's means.
fn requests(v: &Value, completed: u64) -> Result<Vec<(u32, u32)>, String> {
    let tokens = |x: f64| x.round().clamp(1.0, MAX_TOKENS) as u32;
    if let (Some(Value::Array(inputs)), Some(Value::Array(outputs))) =
        (v.get("input_lens"), v.get("output_lens"))
    {
        if inputs.len() != outputs.len() || inputs.len() as u64 > MAX_REQUESTS {
            return Err(format!(
                "input_lens and output_lens: {} and {} entries (they go in pairs, at most {MAX_REQUESTS})",
                inputs.len(),
                outputs.len()
            ));
        }
        let errors = v.get("errors").and_then(Value::as_array);
        let mut out = Vec::with_capacity(inputs.len());
        for (i, (p, o)) in inputs.iter().zip(outputs).enumerate() {
            let failed = errors
                .and_then(|e| e.get(i))
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty());
            let (Some(p), Some(o)) = (p.as_f64(), o.as_f64()) else {
                return Err(format!("input_lens[{i}] / output_lens[{i}]: not numbers"));
            };
            if !failed && o > 0.0 {
                out.push((tokens(p), tokens(o)));
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    let prompt = number(v, "total_input_tokens")? / completed as f64;
    let output = number(v, "total_output_tokens")? / completed as f64;
    Ok(vec![(tokens(prompt), tokens(output)); completed as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: &str = r#"{"date":"20251001-120000","backend":"vllm","num_prompts":200,
        "request_rate":4.0,"burstiness":1.0,"max_concurrency":null,"duration":52.1,
        "completed":200,"total_input_tokens":204800,"total_output_tokens":25600,
        "mean_ttft_ms":61.2,"median_ttft_ms":58.0,"mean_tpot_ms":12.4,"mean_itl_ms":12.4}"#;

    #[test]
    fn a_rate_run_gives_every_request_the_mean_tokens() {
        let runs = parse_vllm_bench("r.json", RATE).unwrap();
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.load, BenchLoad::Rate(4.0));
        // 204 800 / 200 = 1 024 prompt tokens, 25 600 / 200 = 128 out.
        assert_eq!(r.requests, vec![(1024, 128); 200]);
        assert_eq!((r.ttft_ms, r.tpot_ms), (61.2, 12.4));
        // A long run is replayed by its first 2 000 requests.
        let long = RATE.replace("\"completed\":200", "\"completed\":50000");
        let runs = parse_vllm_bench("long.json", &long).unwrap();
        assert_eq!(runs[0].requests.len(), FIT_REQUESTS);
    }

    #[test]
    fn appended_runs_with_detailed_arrays_keep_the_successful_requests() {
        let concurrency = r#"{"request_rate":"inf","max_concurrency":16,"completed":2,
            "total_input_tokens":300,"total_output_tokens":30,"mean_ttft_ms":40,"mean_tpot_ms":9,
            "input_lens":[100,200,50],"output_lens":[10,20,0],"errors":["","","timeout"]}"#;
        let text = format!(
            "{}\n{}\n",
            RATE.replace('\n', " "),
            concurrency.replace('\n', " ")
        );
        let runs = parse_vllm_bench("sweep.json", &text).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].name, "sweep.json, object 2");
        assert_eq!(runs[1].load, BenchLoad::Concurrency(16));
        assert_eq!(runs[1].requests, vec![(100, 10), (200, 20)]);
    }

    #[test]
    fn files_that_are_not_bench_results_are_refused_by_field() {
        let err = |t: &str| parse_vllm_bench("x.json", t).unwrap_err();
        assert!(err("[1, 2]").contains("not a JSON object"));
        assert!(err("{}").contains("completed: missing"));
        assert!(err(&RATE.replace("\"mean_tpot_ms\":12.4,", "")).contains("mean_tpot_ms: missing"));
        assert!(err(&RATE.replace("4.0", "\"fast\"")).contains("request_rate"));
        assert!(err("").contains("no run"));
        assert!(err("{\"completed\": ").contains("not vllm bench serve JSON"));
    }
}
