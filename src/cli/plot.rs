//! `kubesim plot RUN_DIR`: draw a run directory's plots again (e.g. as PNG) from its files.

use std::path::PathBuf;

use anyhow::Context;

use super::Status;
use kubesim::output::{plot, run_dir};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory that `kubesim run` wrote (its timeseries.csv, report.json and
    /// cluster_events.jsonl are read; the plot-*.FORMAT files are written beside them).
    pub run_dir: PathBuf,
    /// The image format.
    #[arg(long, value_enum, default_value = "svg", value_name = "FORMAT")]
    pub format: plot::Format,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    let out = match run_dir::check_run_dir(&args.run_dir) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: RUN_DIR: {e}");
            return Ok(Status::BadInput);
        }
    };
    let source = out.path().to_path_buf();
    let mut written = Vec::new();
    let drawn = run_dir::add_files(&out, |staging| {
        // Read from the run, drawn into the staging directory, then moved in file by file.
        let drawings =
            plot::read_and_write(&source, staging, args.format).map_err(std::io::Error::other)?;
        written.extend(drawings.into_iter().map(|d| d.file));
        Ok(())
    });
    drawn.context("the plots were not written")?;
    for file in &written {
        println!("{}", args.run_dir.join(file).display());
    }
    if written.is_empty() {
        super::status_line("the run has nothing to plot");
    }
    Ok(Status::Success)
}
