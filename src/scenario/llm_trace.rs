//! Request-level LLM traces: one row per request, with its arrival and its prompt and output
//! token counts, replayed request by request (not turned into a rate).
//!
//! Two formats, told apart by their first line:
//! - the Azure LLM inference trace (CSV `TIMESTAMP,ContextTokens,GeneratedTokens`, wall-clock
//!   timestamps `YYYY-MM-DD HH:MM:SS.fffffff`; times are taken from the first row);
//! - the Mooncake trace (JSON Lines `{"timestamp": ms, "input_length": n, "output_length": n,
//!   "hash_ids": [...]}`, times in ms from the start).
//!
//! Trace time maps to simulated time as for rate traces: `offset` skips the start, `speedup`
//! divides time. `scale` replays each request `⌊scale⌋` times, plus once more for the fraction
//! of requests that `scale`'s fractional part gives (picked by an even, deterministic spacing
//! over the rows, so the same file and scale always give the same requests).

use serde::Deserialize;

use super::diag::Diagnostic;
use super::trace::{TraceMapping, line_error};
use crate::sim::{SimDuration, SimTime};
use crate::spec::llm::PREFIX_BLOCK_TOKENS;

/// Most tokens one request's prompt or output may have (ten million: far beyond any model's
/// context window, so only a broken row is refused).
pub const MAX_TOKENS: u32 = 10_000_000;

pub use crate::spec::llm::TokenRequest;

/// A row as read: seconds from the trace's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceRow {
    /// Its arrival in seconds of trace time: since the first row (Azure), or the row's
    /// `timestamp` in ms / 1000 (Mooncake).
    pub trace_secs: f64,
    /// Prompt length in tokens (`ContextTokens`, `input_length`), at most [`MAX_TOKENS`].
    pub prompt_tokens: u32,
    /// Tokens to generate (`GeneratedTokens`, `output_length`), at most [`MAX_TOKENS`]; a 0 is
    /// kept here and replayed as 1.
    pub output_tokens: u32,
    /// Its block hashes in the trace's table (none for the Azure format).
    pub hashes_start: u32,
    /// How many block hashes it has, from `hashes_start` (0 for the Azure format).
    pub hashes_len: u32,
}

/// A trace as read: its rows, and the prompt block hashes they index (Mooncake's `hash_ids`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenTrace {
    /// The requests, in the file's order (which must be time order).
    pub rows: Vec<TraceRow>,
    /// Every row's `hash_ids` one after another, each row's a slice of them; empty for Azure.
    pub hashes: Vec<u64>,
}

/// Reads either format (see the module doc); problems are reported by line.
pub fn read(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> TokenTrace {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let trace = match first {
        Some(l) if l.starts_with('{') => read_mooncake(file, text, diags),
        Some(_) => TokenTrace {
            rows: read_azure(file, text, diags),
            hashes: Vec::new(),
        },
        None => TokenTrace::default(),
    };
    if trace.rows.is_empty() && !diags.iter().any(|d| d.file == file) {
        diags.push(line_error(file, 1, "", "the trace has no requests"));
    }
    trace
}

fn tokens(file: &str, line: usize, field: &str, value: &str, diags: &mut Vec<Diagnostic>) -> u32 {
    match value.trim().parse::<u32>() {
        Ok(n) if n <= MAX_TOKENS => n,
        _ => {
            diags.push(line_error(
                file,
                line,
                field,
                format!("{value:?} is not a token count (a whole number up to {MAX_TOKENS})"),
            ));
            0
        }
    }
}

/// A prompt's token count: as [`tokens`], and at least one (vLLM refuses an empty prompt).
fn prompt_tokens(
    file: &str,
    line: usize,
    field: &str,
    value: &str,
    diags: &mut Vec<Diagnostic>,
) -> u32 {
    let n = tokens(file, line, field, value, diags);
    if n == 0 && value.trim() == "0" {
        diags.push(empty_prompt(file, line, field));
    }
    n
}

fn empty_prompt(file: &str, line: usize, field: &str) -> Diagnostic {
    line_error(
        file,
        line,
        field,
        "0: a request needs at least one prompt token (vLLM refuses an empty prompt)",
    )
}

fn read_azure(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<TraceRow> {
    let mut rows = Vec::new();
    let mut start: Option<i64> = None;
    for (i, line) in text.lines().enumerate() {
        let (n, line) = (i + 1, line.trim());
        if line.is_empty() || (n == 1 && line.starts_with("TIMESTAMP")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 3 {
            diags.push(line_error(
                file,
                n,
                "",
                "expected TIMESTAMP,ContextTokens,GeneratedTokens",
            ));
            continue;
        }
        let Some(micros) = parse_timestamp(fields[0].trim()) else {
            diags.push(line_error(
                file,
                n,
                "TIMESTAMP",
                format!(
                    "{:?} is not a time like 2023-11-16 18:15:46.6805900",
                    fields[0]
                ),
            ));
            continue;
        };
        let origin = *start.get_or_insert(micros);
        rows.push(TraceRow {
            trace_secs: (micros - origin) as f64 / 1e6,
            prompt_tokens: prompt_tokens(file, n, "ContextTokens", fields[1], diags),
            output_tokens: tokens(file, n, "GeneratedTokens", fields[2], diags),
            hashes_start: 0,
            hashes_len: 0,
        });
        check_order(file, n, &rows, diags);
    }
    rows
}

#[derive(Deserialize)]
struct MooncakeRow {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    #[serde(default)]
    hash_ids: Vec<u64>,
}

/// Most block hashes in one trace (ten million: 80 MB).
const MAX_HASHES: usize = 10_000_000;

fn read_mooncake(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> TokenTrace {
    let mut rows = Vec::new();
    let mut hashes: Vec<u64> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (n, line) = (i + 1, line.trim());
        if line.is_empty() {
            continue;
        }
        let row: MooncakeRow = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                diags.push(line_error(file, n, "", format!("not a Mooncake request ({{\"timestamp\": ms, \"input_length\": n, \"output_length\": n}}): {e}")));
                continue;
            }
        };
        if !row.timestamp.is_finite() || row.timestamp < 0.0 {
            diags.push(line_error(file, n, "timestamp", "must be milliseconds ≥ 0"));
            continue;
        }
        for (field, v) in [
            ("input_length", row.input_length),
            ("output_length", row.output_length),
        ] {
            if v > MAX_TOKENS {
                diags.push(line_error(
                    file,
                    n,
                    field,
                    format!("{v} tokens is more than {MAX_TOKENS}"),
                ));
            }
        }
        if row.input_length == 0 {
            diags.push(empty_prompt(file, n, "input_length"));
        }
        let most = row.input_length.div_ceil(PREFIX_BLOCK_TOKENS) as usize;
        if row.hash_ids.len() > most {
            diags.push(line_error(
                file,
                n,
                "hash_ids",
                format!(
                    "{} block hashes for a prompt of {} tokens: at most {most}, one per {PREFIX_BLOCK_TOKENS}-token block",
                    row.hash_ids.len(),
                    row.input_length
                ),
            ));
        }
        if hashes.len() + row.hash_ids.len() > MAX_HASHES {
            diags.push(line_error(
                file,
                n,
                "hash_ids",
                format!("the trace has more than {MAX_HASHES} block hashes"),
            ));
            break;
        }
        let hashes_start = hashes.len() as u32;
        hashes.extend_from_slice(&row.hash_ids);
        rows.push(TraceRow {
            trace_secs: row.timestamp / 1000.0,
            prompt_tokens: row.input_length.min(MAX_TOKENS),
            output_tokens: row.output_length.min(MAX_TOKENS),
            hashes_start,
            hashes_len: row.hash_ids.len() as u32,
        });
        check_order(file, n, &rows, diags);
    }
    TokenTrace { rows, hashes }
}

fn check_order(file: &str, line: usize, rows: &[TraceRow], diags: &mut Vec<Diagnostic>) {
    if let [.., before, last] = rows
        && last.trace_secs < before.trace_secs
    {
        diags.push(line_error(
            file,
            line,
            "",
            "requests must be in time order: this one is earlier than the row before",
        ));
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` as microseconds since 1970-01-01 (no time zone: only
/// differences are used).
fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    let valid = (1..=12).contains(&m) && (1..=31).contains(&day) && h < 24 && min < 60 && sec < 61;
    if !valid
        || d.next().is_some()
        || t.next().is_some()
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = &fraction[..fraction.len().min(6)];
    let micros = format!("{digits:0<6}").parse::<i64>().ok()?;
    let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec;
    Some(secs * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The requests that arrive in `[0, duration]` of simulated time, in order.
pub fn to_requests(
    rows: &[TraceRow],
    mapping: TraceMapping,
    duration: SimDuration,
) -> Vec<TokenRequest> {
    let skip = mapping.offset.as_secs_f64();
    let copies = mapping.scale.floor() as u64;
    let extra = mapping.scale - mapping.scale.floor();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.trace_secs < skip {
            continue;
        }
        let at = SimTime::ZERO
            + SimDuration::from_secs_f64_ceil((row.trace_secs - skip) / mapping.speedup);
        if at > SimTime::ZERO + duration {
            break;
        }
        // Row i gets the extra copy when the running total of `extra` crosses a whole number.
        let crosses = ((i as f64 + 1.0) * extra).floor() > (i as f64 * extra).floor();
        let request = TokenRequest {
            at,
            prompt_tokens: row.prompt_tokens,
            output_tokens: row.output_tokens.max(1),
            hashes_start: row.hashes_start,
            hashes_len: row.hashes_len,
        };
        for _ in 0..copies + u64::from(crosses) {
            out.push(request);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(offset_secs: u64, speedup: f64, scale: f64) -> TraceMapping {
        TraceMapping {
            offset: SimDuration::from_secs(offset_secs),
            speedup,
            scale,
        }
    }

    #[test]
    fn empty_prompts_and_hashes_beyond_the_prompt_are_refused() {
        // 1 000 tokens fill two 512-token blocks: two hashes at most.
        let text = "{\"timestamp\": 0, \"input_length\": 0, \"output_length\": 5}\n\
                    {\"timestamp\": 1, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [1, 2, 3]}\n\
                    {\"timestamp\": 2, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [1, 2]}\n";
        let mut diags = Vec::new();
        read("m.jsonl", text, &mut diags);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown[0].contains(
                "m.jsonl:1:1: input_length: 0: a request needs at least one prompt token"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[1].contains(
                "m.jsonl:2:1: hash_ids: 3 block hashes for a prompt of 1000 tokens: at most 2"
            ),
            "{shown:#?}"
        );
    }

    #[test]
    fn azure_rows_are_timed_from_the_first_with_seven_digit_fractions() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 23:59:59.9000000,4808,10\n\
                    2023-11-17 00:00:01.1234567,3180,8";
        let mut diags = Vec::new();
        let rows = read("t.csv", text, &mut diags).rows;
        assert!(diags.is_empty(), "{diags:?}");
        // Across midnight: 00:00:01.123456 − 23:59:59.900000 = 1.223456 s (the 7th digit is
        // below a microsecond and dropped).
        assert_eq!(rows[1].trace_secs, 1.223456);
        assert_eq!((rows[0].prompt_tokens, rows[0].output_tokens), (4808, 10));
    }

    #[test]
    fn mooncake_rows_are_milliseconds_from_the_start() {
        let text = "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\n\
                    {\"timestamp\": 1500, \"input_length\": 100, \"output_length\": 2, \"hash_ids\": [0]}\n";
        let mut diags = Vec::new();
        let trace = read("t.jsonl", text, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let rows = &trace.rows;
        assert_eq!(rows[1].trace_secs, 1.5);
        assert_eq!(rows[0].prompt_tokens, 6758);
        assert_eq!(trace.hashes, [0, 1, 0]);
        assert_eq!((rows[1].hashes_start, rows[1].hashes_len), (2, 1));
    }

    #[test]
    fn bad_rows_are_named_by_line_and_field() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 18:15:46.6805900,12,x\n\
                    2023-13-16 18:15:46.6805900,12,3\n\
                    2023-11-16 18:15:40.0000000,12,3";
        let mut diags = Vec::new();
        read("t.csv", text, &mut diags);
        let shown: Vec<String> = diags
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.position.map_or(0, |p| p.line),
                    d.path,
                    d.message
                )
            })
            .collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("2 GeneratedTokens"), "{shown:?}");
        assert!(shown[1].starts_with("3 TIMESTAMP"), "{shown:?}");
        assert!(
            shown[2].starts_with("4 ") && shown[2].contains("time order"),
            "{shown:?}"
        );
    }

    #[test]
    fn mapping_skips_the_offset_divides_by_speedup_and_scales_by_copies() {
        let rows: Vec<TraceRow> = (0..10)
            .map(|i| TraceRow {
                trace_secs: f64::from(i),
                prompt_tokens: 10,
                output_tokens: 0,
                hashes_start: 0,
                hashes_len: 0,
            })
            .collect();
        // Offset 2 s, speedup 2: rows at 2..9 s arrive at 0, 0.5, … 3.5 s; the run is 3 s long,
        // so rows 2..8 (0 … 3 s) arrive. Scale 1.5: every other row twice → 7 + 3 = 10 (rows
        // 3, 5, 7 cross a whole number of halves).
        let got = to_requests(&rows, mapping(2, 2.0, 1.5), SimDuration::from_secs(3));
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].at, SimTime::ZERO);
        assert_eq!(got.last().unwrap().at, SimTime::from_secs(3));
        // An output of 0 tokens still generates one.
        assert!(got.iter().all(|r| r.output_tokens == 1));
        // Scale 0.25: one row in four.
        assert_eq!(
            to_requests(&rows, mapping(0, 1.0, 0.25), SimDuration::from_secs(100)).len(),
            2
        );
    }
}
