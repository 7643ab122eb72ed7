//! Fits the LLM step-time profiles to the measured table and prints the step-times file:
//! `cargo run --example fit-llm-profiles > assets/llm/step-times.yaml`.
//! An optional argument names another table in the same CSV format.

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/llm/splitwise_perf_model.csv".to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    match kubesim::spec::llm::profile::fit_step_times_file(&text) {
        Ok(yaml) => print!("{yaml}"),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    }
}
