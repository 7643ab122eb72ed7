//! `kubesim get KIND RUN_DIR --at T`: what `kubectl get` would have printed at simulated time
//! `T` of a finished run, replayed from the run's `history.jsonl`.

use std::path::PathBuf;

use super::Status;
use kubesim::cluster::selector::LabelSelector;
use kubesim::metrics::history::{ClusterAt, Line, ReplayError, line_time};
use kubesim::output::get::{self, Format, Kind, Query, QueryError, Snapshot};
use kubesim::scenario::units::parse_duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubesim get pods output/quickstart --at 1h30m
  kubesim get pods output/quickstart --at 45m -o wide -l app=web
  kubesim get nodes output/node-failure --at 1h5m
  kubesim get hpa output/quickstart --at 20m -o yaml")]
pub struct Args {
    /// What to list: pods, nodes, deployments, statefulsets, daemonsets, hpa or services
    /// (kubectl's short names work too: po, no, deploy, sts, ds, svc).
    #[arg(value_enum)]
    pub kind: Kind,
    /// A run directory that `kubesim run` wrote (its history.jsonl is replayed).
    pub run_dir: PathBuf,
    /// The simulated instant, as a duration from the start (`90s`, `1h30m`); after every
    /// change at that instant. Default: the end of the run.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Output format: a table (default), `wide` (more columns), `yaml` or `json` (a List of
    /// Kubernetes objects).
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
    /// Only pods or nodes whose labels match (`app=web`, `tier in (a,b)`, `!canary`).
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// The namespace to list.
    #[arg(
        short = 'n',
        long,
        default_value = "default",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: String,
    /// List every namespace (adds a NAMESPACE column).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

pub fn run(args: Args) -> anyhow::Result<Status> {
    match answer(&args) {
        Ok(text) => {
            super::out(text.trim_end_matches('\n'));
            Ok(Status::Success)
        }
        Err(Answer::Nothing(message)) => {
            // As kubectl: not an error, said on stderr.
            eprintln!("{message}");
            Ok(Status::Success)
        }
        Err(Answer::BadInput(message)) => {
            eprintln!("error: {message}");
            Ok(Status::BadInput)
        }
    }
}

enum Answer {
    Nothing(String),
    BadInput(String),
}

fn answer(args: &Args) -> Result<String, Answer> {
    let selector = args
        .selector
        .as_deref()
        .map(LabelSelector::parse_kubectl)
        .transpose()
        .map_err(|e| Answer::BadInput(format!("-l {e}")))?;
    let at = args
        .at
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| Answer::BadInput(format!("--at: {e}")))?;
    let lines = get::read_history(&args.run_dir).map_err(Answer::BadInput)?;
    let at = match at {
        Some(d) => d.as_secs_f64(),
        None => end_of(&lines),
    };
    let cluster = ClusterAt::replay(&lines, at).map_err(|e| match e {
        ReplayError::AfterEnd { .. } | ReplayError::AfterFull { .. } => {
            Answer::BadInput(e.to_string())
        }
        _ => {
            let path = args.run_dir.join(kubesim::output::HISTORY_FILE);
            Answer::BadInput(format!("{}: {e}", path.display()))
        }
    })?;
    let decisions = if args.kind == Kind::Hpa {
        get::read_decisions(&args.run_dir).map_err(Answer::BadInput)?
    } else {
        Vec::new()
    };
    let query = Query {
        kind: args.kind,
        format: args.format,
        selector,
        namespace: (!args.all_namespaces).then(|| args.namespace.clone()),
    };
    get::render(&Snapshot::new(&cluster, &decisions), &query).map_err(|e| match e {
        QueryError::Nothing(_) => Answer::Nothing(e.to_string()),
        QueryError::SelectorOnKind => Answer::BadInput(e.to_string()),
    })
}

/// The end of the run, or the last instant the history knows in full when its journal filled.
fn end_of(lines: &[Line]) -> f64 {
    match lines.last() {
        Some(&Line::End {
            full_at: None, t, ..
        }) => t,
        Some(&Line::End {
            full_at: Some(full),
            ..
        }) => lines
            .iter()
            .filter_map(line_time)
            .rfind(|&t| t < full)
            .unwrap_or(0.0),
        _ => 0.0,
    }
}
