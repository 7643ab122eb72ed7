//! `kubesim validate`: report every problem in scenarios and manifests without running anything.

use std::path::PathBuf;

use super::{Status, print_diagnostics};
use crate::scenario::validate_file;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (kind: Scenario) or Kubernetes manifest files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let mut failed = 0;
    for file in &args.files {
        let diags = validate_file(file);
        print_diagnostics(&diags);
        if diags.iter().any(|d| d.is_error()) {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} file(s) have errors", args.files.len());
        return Ok(Status::BadInput);
    }
    super::tell(format!("{} file(s) valid", args.files.len()));
    Ok(Status::Success)
}
