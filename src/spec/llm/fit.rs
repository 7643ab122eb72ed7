//! Fitting a step-time profile to measured latencies: weighted least squares on the relative
//! error, the same criterion as the mean absolute percentage error the fit is judged by.
//!
//! The measurements are SplitwiseSim's table (`assets/llm/splitwise_perf_model.csv`): for a
//! model, a GPU and a tensor-parallel degree, the time of one prefill pass over `batch` prompts
//! of `prompt` tokens, and the mean time of a decode iteration of that batch while each
//! sequence generates `generated` tokens after its prompt. Prefill is fitted as a piecewise
//! linear function of the batched prompt tokens through [`PREFILL_KNOTS`]; decode as
//! `base + per_sequence × batch + per_context_token × context`, with context the batch's mean
//! total context over the generation, `batch × (prompt + generated / 2)`.
//!
//! Points that cannot be right are left out rather than bent around: a batch whose prefill
//! measured less than half as long as a batch with fewer tokens of the same profile (TP 2 with
//! 64 prompts of 512 tokens: 0.8 s, against 6.6 s for 32 of them — the 32 768-token batch does
//! not fit in two GPUs' memory beside the weights, so it cannot have run whole).

use std::collections::BTreeMap;

use super::profile::{DecodeCost, PrefillCost};

/// Batched prompt tokens at which the prefill curve may bend (between them it is linear).
pub const PREFILL_KNOTS: [u64; 5] = [128, 512, 2048, 8192, 32768];

/// One measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Prompt tokens per request.
    pub prompt_tokens: u64,
    /// Requests in the batch.
    pub batch: u64,
    /// Tokens generated per request.
    pub generated_tokens: u64,
    /// Time to the first token (the prefill), ms.
    pub prefill_ms: f64,
    /// Time per decode iteration, ms.
    pub decode_ms: f64,
    /// The whole batch's end-to-end time (not used by the fit: a check on the simulation).
    pub e2e_ms: f64,
}

impl Measurement {
    fn batched_prompt_tokens(&self) -> u64 {
        self.prompt_tokens * self.batch
    }

    fn decode_context_tokens(&self) -> f64 {
        self.batch as f64 * (self.prompt_tokens as f64 + self.generated_tokens as f64 / 2.0)
    }
}

/// The rows of one (model, hardware, tensor parallelism), named `model/hardware/tpN`.
pub type Table = BTreeMap<String, Vec<Measurement>>;

/// Reads SplitwiseSim's CSV (`model,hardware,prompt_size,batch_size,token_size,…,
/// prompt_time,token_time,e2e_time,tensor_parallel`), grouped by profile name.
pub fn read_table(csv_text: &str) -> Result<Table, String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column {name}"))
    };
    let cols = [
        "model",
        "hardware",
        "tensor_parallel",
        "prompt_size",
        "batch_size",
        "token_size",
        "prompt_time",
        "token_time",
        "e2e_time",
    ]
    .map(column);
    if let Some(Err(e)) = cols.iter().find(|c| c.is_err()) {
        return Err(e.clone());
    }
    let [
        model,
        hardware,
        tp,
        prompt,
        batch,
        generated,
        prefill,
        decode,
        e2e,
    ] = cols.map(|c| c.unwrap_or_default());
    let mut table = Table::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("line {}: {e}", i + 2))?;
        let number = |c: usize| -> Result<f64, String> {
            row[c]
                .parse::<f64>()
                .map_err(|_| format!("line {}: {:?} is not a number", i + 2, &row[c]))
        };
        let name = format!("{}/{}/tp{}", &row[model], &row[hardware], &row[tp]);
        table.entry(name).or_default().push(Measurement {
            prompt_tokens: number(prompt)? as u64,
            batch: number(batch)? as u64,
            generated_tokens: number(generated)? as u64,
            prefill_ms: number(prefill)?,
            decode_ms: number(decode)?,
            e2e_ms: number(e2e)?,
        });
    }
    Ok(table)
}

/// The rows a fit uses: all but prefills that measured under half as long as a smaller batch's.
pub fn plausible(rows: &[Measurement]) -> Vec<Measurement> {
    let mut mean_by_tokens: BTreeMap<u64, (f64, u32)> = BTreeMap::new();
    for r in rows {
        let e = mean_by_tokens.entry(r.batched_prompt_tokens()).or_default();
        e.0 += r.prefill_ms;
        e.1 += 1;
    }
    let mut longest_below = 0.0_f64;
    let mut implausible = Vec::new();
    for (&tokens, &(sum, n)) in &mean_by_tokens {
        let mean = sum / f64::from(n);
        if mean < longest_below / 2.0 {
            implausible.push(tokens);
        }
        longest_below = longest_below.max(mean);
    }
    rows.iter()
        .filter(|r| !implausible.contains(&r.batched_prompt_tokens()))
        .cloned()
        .collect()
}

/// Fits both curves to `rows` (already filtered by [`plausible`]).
pub fn fit(rows: &[Measurement]) -> (PrefillCost, DecodeCost) {
    let prefill = least_squares_relative(rows.iter().map(|r| {
        let mut basis = vec![0.0; PREFILL_KNOTS.len()];
        for (k, w) in PrefillCost::hat_weights(&PREFILL_KNOTS, r.batched_prompt_tokens()) {
            basis[k] = w;
        }
        (basis, r.prefill_ms)
    }));
    let decode = least_squares_relative(rows.iter().map(|r| {
        let basis = vec![1.0, r.batch as f64, r.decode_context_tokens()];
        (basis, r.decode_ms)
    }));
    (
        PrefillCost {
            knot_tokens: PREFILL_KNOTS.to_vec(),
            knot_ms: prefill,
        },
        DecodeCost {
            base_ms: decode[0],
            per_sequence_ms: decode[1],
            per_context_token_ms: decode[2],
        },
    )
}

/// Mean absolute percentage error (in %) of the profile's prefill and decode times on `rows`.
pub fn mape(prefill: &PrefillCost, decode: &DecodeCost, rows: &[Measurement]) -> (f64, f64) {
    let n = rows.len().max(1) as f64;
    let prefill_error: f64 = rows
        .iter()
        .map(|r| (prefill.ms(r.batched_prompt_tokens()) - r.prefill_ms).abs() / r.prefill_ms)
        .sum();
    let decode_error: f64 = rows
        .iter()
        .map(|r| {
            let fitted = decode.ms(r.batch, r.decode_context_tokens());
            (fitted - r.decode_ms).abs() / r.decode_ms
        })
        .sum();
    (100.0 * prefill_error / n, 100.0 * decode_error / n)
}

/// Minimises Σ ((x·β − y) / y)² over the `(x, y)` rows: the normal equations, weighted by
/// 1/y², solved by Gaussian elimination with partial pivoting (a handful of unknowns).
fn least_squares_relative(rows: impl Iterator<Item = (Vec<f64>, f64)>) -> Vec<f64> {
    let mut a: Vec<Vec<f64>> = Vec::new();
    let mut b: Vec<f64> = Vec::new();
    for (x, y) in rows {
        if a.is_empty() {
            a = vec![vec![0.0; x.len()]; x.len()];
            b = vec![0.0; x.len()];
        }
        let w = 1.0 / (y * y);
        for i in 0..x.len() {
            for j in 0..x.len() {
                a[i][j] += w * x[i] * x[j];
            }
            b[i] += w * x[i] * y;
        }
    }
    solve(a, b)
}

fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        if a[col][col] == 0.0 {
            continue; // no data constrains this unknown: it stays 0
        }
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        if a[row][row] != 0.0 {
            x[row] = (b[row] - tail) / a[row][row];
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_an_exact_linear_system() {
        // 2x + y = 5, x + 3y = 10 → x = 1, y = 3.
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![5.0, 10.0]);
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn recovers_the_coefficients_of_data_it_can_represent() {
        // decode = 30 + 0.5·batch + 0.001·context exactly: the fit finds it, error 0.
        let rows: Vec<Measurement> = [
            (512, 1, 128),
            (512, 8, 128),
            (2048, 4, 512),
            (128, 64, 1024),
        ]
        .iter()
        .map(|&(p, b, g)| {
            let context = b as f64 * (p as f64 + g as f64 / 2.0);
            let tokens = (p * b) as f64;
            Measurement {
                prompt_tokens: p,
                batch: b,
                generated_tokens: g,
                prefill_ms: 20.0 + 0.1 * tokens,
                decode_ms: 30.0 + 0.5 * b as f64 + 0.001 * context,
                e2e_ms: 0.0,
            }
        })
        .collect();
        let (prefill, decode) = fit(&rows);
        assert!((decode.base_ms - 30.0).abs() < 1e-6, "{decode:?}");
        assert!((decode.per_sequence_ms - 0.5).abs() < 1e-6);
        assert!((decode.per_context_token_ms - 0.001).abs() < 1e-9);
        let (prefill_mape, decode_mape) = mape(&prefill, &decode, &rows);
        assert!(
            decode_mape < 1e-6 && prefill_mape < 1e-6,
            "{prefill_mape} {decode_mape}"
        );
    }

    #[test]
    fn a_prefill_far_faster_than_a_smaller_batch_is_left_out() {
        let row = |p, b, ms| Measurement {
            prompt_tokens: p,
            batch: b,
            generated_tokens: 128,
            prefill_ms: ms,
            decode_ms: 50.0,
            e2e_ms: 0.0,
        };
        // 16 384 tokens took 6 600 ms; 32 768 tokens "took" 800 ms (< 6 600 / 2): dropped.
        // 4 096 tokens at 1 500 ms stays (it is below 16 384 tokens, and nothing before it is
        // more than twice as slow).
        let rows = [
            row(512, 32, 6600.0),
            row(512, 64, 800.0),
            row(4096, 1, 1500.0),
        ];
        let kept = plausible(&rows);
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|r| r.batch != 64));
    }
}
