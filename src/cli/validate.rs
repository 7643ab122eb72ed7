//! `kubesim validate`: report every problem in scenarios and manifests without running anything.

use std::path::PathBuf;

use super::{Status, print_diagnostics};
use kubesim::scenario::validate_files;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each scenario (a file with a `kind: Scenario` document) is validated on its own, with the
manifests and traces it names. Every other file is a manifest file, and all of them are checked
together as one set, as `kubectl apply -f` would apply them: an HPA in one file may target a
Deployment in another.

Examples:
  kubesim validate scenarios/quickstart/scenario.yaml
  kubesim validate deploy.yaml hpa.yaml          one set of manifests across two files
  kubesim validate -R -f k8s/                    a folder and its subfolders
  kustomize build overlays/prod | kubesim validate -")]
pub struct Args {
    /// Scenario or manifest files; a folder stands for its .yaml, .yml and .json files (in
    /// name order), `-` for standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// More files, folders or `-`, as kubectl takes them.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filenames: Vec<PathBuf>,
    /// Read folders' subfolders too (kubectl's -R).
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let paths: Vec<PathBuf> = args.files.into_iter().chain(args.filenames).collect();
    if paths.is_empty() {
        eprintln!("kubesim validate: name at least one FILE (or -f FILE); see --help");
        return Ok(Status::BadInput);
    }
    let validated = validate_files(&paths, args.recursive);
    let diags = &validated.diagnostics;
    print_diagnostics(diags);
    let mut failed: Vec<&str> = (diags.iter())
        .filter(|d| d.is_error())
        .map(|d| d.file.as_str())
        .collect();
    failed.sort_unstable();
    failed.dedup();
    let files = validated.files.max(failed.len());
    if !failed.is_empty() {
        eprintln!("{} of {files} file(s) have errors", failed.len());
        return Ok(Status::BadInput);
    }
    for path in &paths {
        print_benchmark_fits(path);
    }
    super::tell(format!("{files} file(s) valid"));
    Ok(Status::Success)
}

/// For a scenario whose LLM servers are fitted to benchmark runs (`llm.benchmark`): the
/// coefficients found and, per run, measured against simulated.
fn print_benchmark_fits(path: &std::path::Path) {
    let file = kubesim::scenario::manifest_files::scenario_file(path);
    let Ok(scenario) = kubesim::scenario::load_scenario(&file, &Default::default()) else {
        return; // a manifest file, not a scenario
    };
    for fit in kubesim::engine::fit_benchmarks(&scenario) {
        let k = fit.coefficients;
        super::tell(format!(
            "{}: llm.benchmark fitted computeEfficiency {:.3}, memoryEfficiency {:.3}, stepOverheadUs {:.0} (allReduceUs {:.1} as shipped)",
            fit.deployment,
            k.compute_efficiency,
            k.memory_efficiency,
            k.step_overhead_us,
            k.all_reduce_us
        ));
        let pct = |sim: f64, real: f64| 100.0 * (sim - real) / real;
        let (mut ttft_err, mut tpot_err) = (0.0, 0.0);
        for (run, (ttft, tpot)) in &fit.runs {
            super::tell(format!(
                "  {}: TTFT {:.1} ms measured, {:.1} simulated ({:+.1} %); TPOT {:.2} ms, {:.2} ({:+.1} %)",
                run.name,
                run.ttft_ms,
                ttft,
                pct(*ttft, run.ttft_ms),
                run.tpot_ms,
                tpot,
                pct(*tpot, run.tpot_ms)
            ));
            ttft_err += pct(*ttft, run.ttft_ms).abs();
            tpot_err += pct(*tpot, run.tpot_ms).abs();
        }
        let n = fit.runs.len().max(1) as f64;
        super::tell(format!(
            "  mean absolute error over {} run(s): TTFT {:.1} %, TPOT {:.1} %",
            fit.runs.len(),
            ttft_err / n,
            tpot_err / n
        ));
    }
}
