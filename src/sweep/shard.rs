//! A sweep split over machines. Shard I of N runs the variants whose index is I mod N (every
//! shard gets a share of every axis, so shards take about as long as each other) and writes its
//! rows to `shard.json`; [`merge`] checks that the shards are all of one sweep, rebuilds that
//! sweep's plan and puts the rows back in order — so the merged `sweep.json`/`sweep.csv` are
//! the bytes a single machine writes. Variant seeds never depend on the shard (see
//! [`super::replication_seeds`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::run::VariantRow;
use super::{Plan, plan};
use crate::scenario::diag::Diagnostic;
use crate::scenario::sweep::{SweepFlags, load_any, read_json};
use crate::sim::rng::derive_seed;

pub(crate) const SHARD_SCHEMA: &str = "kubesim.sweep-shard/v1";
/// The file a shard writes.
pub const SHARD_FILE: &str = "shard.json";

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, counted from 0 (below `count`).
    pub index: usize,
    /// How many shards the sweep is split into (at least 1).
    pub count: usize,
}

impl Shard {
    /// `I/N`, 0 ≤ I < N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not I/N (shard I of N, counted from 0: 0/4 … 3/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }

    /// Shard `index` of `count`; an error unless `index < count` (so `count` is at least 1).
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards are 0 to N-1, N ≥ 1"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The indices of this shard's variants.
    pub fn variants(&self, plan: &Plan) -> Vec<usize> {
        (self.index..plan.variants.len())
            .step_by(self.count)
            .collect()
    }
}

/// What a shard writes: its rows, and what is needed to rebuild the sweep when merging.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    /// The format, `kubesim.sweep-shard/v1`; merging refuses any other.
    pub schema: String,
    /// The version of kubesim that wrote it.
    pub kubesim_version: String,
    /// Of the whole sweep ([`fingerprint`]): shards of one sweep agree on it.
    pub fingerprint: String,
    /// Which shard it is ([`Shard::index`]).
    pub index: usize,
    /// How many shards the sweep was split into ([`Shard::count`]).
    pub count: usize,
    /// The sweep (or scenario) file as it was named, and the flags given with it.
    pub sweep_file: PathBuf,
    /// The sweep flags given with `sweep_file`, to rebuild the same sweep when merging.
    pub flags: SweepFlags,
    /// This shard's rows, by increasing variant index.
    pub variants: Vec<VariantRow>,
}

impl ShardFile {
    /// The file shard `shard` of `plan` writes: its `rows`, with the sweep `file` and `flags` as
    /// given, to rebuild the plan from when merging.
    pub fn new(
        plan: &Plan,
        shard: Shard,
        file: &Path,
        flags: &SweepFlags,
        rows: Vec<VariantRow>,
    ) -> Self {
        ShardFile {
            schema: SHARD_SCHEMA.into(),
            kubesim_version: env!("CARGO_PKG_VERSION").into(),
            fingerprint: fingerprint(plan),
            index: shard.index,
            count: shard.count,
            sweep_file: file.to_path_buf(),
            flags: flags.clone(),
            variants: rows,
        }
    }
}

/// A digest of what a sweep runs and measures: every variant's overrides and seeds, the
/// columns, constraints, objective and frontier. Another sweep (or the same file edited) gives
/// another fingerprint.
pub fn fingerprint(plan: &Plan) -> String {
    let mut text = String::new();
    for v in &plan.variants {
        text.push_str(&format!("{:?} {:?}\n", v.overrides, v.seeds));
    }
    for c in &plan.columns {
        text.push_str(&format!("{}\n", c.label));
    }
    for c in &plan.constraints {
        text.push_str(&format!("{}\n", c.name));
    }
    let (direction, column) = plan.objective;
    text.push_str(&format!("{direction:?} {column} {:?}", plan.frontier));
    format!("{:016x}", derive_seed(0, &text))
}

/// Reads the shards in `dirs`, checks that they are all the shards of one sweep, and returns
/// that sweep's plan (rebuilt from its file and flags) with every variant's row in order.
pub fn merge(dirs: &[PathBuf]) -> Result<(Plan, Vec<VariantRow>), Vec<Diagnostic>> {
    let shards: Vec<(String, ShardFile)> = dirs
        .iter()
        .map(|d| {
            let path = d.join(SHARD_FILE);
            let what = "a kubesim sweep shard (shard.json, from `kubesim sweep --shard`)";
            let shard: ShardFile = read_json(&path, what).map_err(|e| vec![e])?;
            let shown = path.display().to_string();
            match shard_file_problem(&shard) {
                Some((field, message)) => {
                    Err(vec![Diagnostic::error(&shown, None, field, message)])
                }
                None => Ok((shown, shard)),
            }
        })
        .collect::<Result<_, _>>()?;
    check_complete(&shards)?;
    let first = &shards[0].1;
    let (sweep_file, recorded) = (first.sweep_file.clone(), first.fingerprint.clone());
    let file = sweep_file.display().to_string();
    let plan = plan(load_any(&sweep_file, &first.flags)?)?;
    if fingerprint(&plan) != recorded {
        return Err(vec![Diagnostic::error(
            &file,
            None,
            "",
            "this sweep is not the one the shards ran (its file, scenario or flags changed since): merge from the directory the shards were started in, with the same files",
        )]);
    }
    let mut rows: Vec<(String, VariantRow)> = (shards.into_iter())
        .flat_map(|(path, s)| s.variants.into_iter().map(move |r| (path.clone(), r)))
        .collect();
    rows.sort_by_key(|(_, r)| r.index);
    let complete = rows.len() == plan.variants.len()
        && rows.iter().enumerate().all(|(i, (_, r))| r.index == i);
    if !complete {
        let message = format!(
            "the shards hold {} rows for {} variants: a shard file was changed",
            rows.len(),
            plan.variants.len()
        );
        return Err(vec![Diagnostic::error(&file, None, "", message)]);
    }
    let damaged: Vec<Diagnostic> = (rows.iter())
        .filter_map(|(path, row)| {
            let why = row_problem(&plan, row)?;
            let field = format!("variants[{}]", row.index);
            Some(Diagnostic::error(path, None, &field, why))
        })
        .collect();
    if !damaged.is_empty() {
        return Err(damaged);
    }
    Ok((plan, rows.into_iter().map(|(_, r)| r).collect()))
}

/// The most shards a sweep may be split into (far beyond any cluster's Indexed Job).
pub const MAX_SHARDS: usize = 100_000;

/// What makes a shard file unusable before it is compared with the others: its format, its
/// version, a shard count or index that cannot be (a damaged or hand-edited file).
fn shard_file_problem(shard: &ShardFile) -> Option<(&'static str, String)> {
    let ours = env!("CARGO_PKG_VERSION");
    if shard.schema != SHARD_SCHEMA {
        let message = format!("schema {:?}, expected {SHARD_SCHEMA:?}", shard.schema);
        return Some(("schema", message));
    }
    if shard.kubesim_version != ours {
        let message = format!(
            "written by kubesim {}, this is {ours}: run the shards again with this version (the same seeds may give other results in another version)",
            shard.kubesim_version
        );
        return Some(("kubesim_version", message));
    }
    if shard.count == 0 || shard.count > MAX_SHARDS {
        let message = format!(
            "{} shards: a sweep is split into 1 to {MAX_SHARDS}",
            shard.count
        );
        return Some(("count", message));
    }
    if shard.index >= shard.count {
        let message = format!(
            "shard {} of {}: shards are 0 to {}",
            shard.index,
            shard.count,
            shard.count - 1
        );
        return Some(("index", message));
    }
    None
}

/// What is wrong with a row of a shard: it must be the plan's variant of its index, with a
/// value per replication of each of the plan's metrics.
fn row_problem(plan: &Plan, row: &VariantRow) -> Option<String> {
    let variant = &plan.variants[row.index];
    if row.id != variant.id || row.values != variant.values || row.overrides != variant.overrides {
        return Some(format!("is not variant {} of this sweep", variant.id));
    }
    if row.seeds != variant.seeds {
        return Some("its seeds are not the variant's".into());
    }
    if row.metrics.len() != plan.columns.len() {
        return Some(format!(
            "{} metrics for the sweep's {} columns",
            row.metrics.len(),
            plan.columns.len()
        ));
    }
    let replications = variant.seeds.len();
    let short = row
        .metrics
        .iter()
        .position(|m| m.values.len() != replications)?;
    Some(format!(
        "metric {} has {} values for {replications} replications",
        plan.columns[short].label,
        row.metrics[short].values.len()
    ))
}

/// One shard of each index 0..N, all of the same sweep.
fn check_complete(shards: &[(String, ShardFile)]) -> Result<(), Vec<Diagnostic>> {
    let Some((first_path, first)) = shards.first() else {
        return Err(vec![Diagnostic::error(
            "merge",
            None,
            "",
            "name the shards' directories",
        )]);
    };
    let mut diags = Vec::new();
    let mut seen = vec![None; first.count];
    for (path, s) in shards {
        if s.fingerprint != first.fingerprint || s.count != first.count {
            let message =
                format!("a shard of another sweep than {first_path} (or of another split)");
            diags.push(Diagnostic::error(path, None, "", message));
        } else if let Some(other) = seen.get_mut(s.index).and_then(|x| x.replace(path)) {
            let message = format!("shard {} of {} again (also in {other})", s.index, s.count);
            diags.push(Diagnostic::error(path, None, "", message));
        }
    }
    let missing: Vec<usize> = (seen.iter().enumerate())
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| i)
        .collect();
    if diags.is_empty() && !missing.is_empty() {
        let mut listed: Vec<String> = missing.iter().take(10).map(usize::to_string).collect();
        if missing.len() > listed.len() {
            listed.push(format!("and {} more", missing.len() - listed.len()));
        }
        let message = format!(
            "shard(s) {} of {} are missing: merge needs every shard",
            listed.join(", "),
            first.count
        );
        diags.push(Diagnostic::error("merge", None, "", message));
    }
    match diags.is_empty() {
        true => Ok(()),
        false => Err(diags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_named_i_of_n() {
        assert_eq!(Shard::parse("2/7"), Ok(Shard { index: 2, count: 7 }));
        assert!(Shard::parse("7/7").unwrap_err().contains("does not exist"));
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("1").unwrap_err().contains("not I/N"));
    }
}
