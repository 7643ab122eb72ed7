//! The record, in a run directory's `run.json`, of every file kubesim wrote there: its name,
//! size and SHA-256. A later run replaces the directory only when each file in it is still what
//! that record says — a user's notes saved as `report.json`, or a plot edited by hand, make the
//! directory someone else's.
//!
//! The record is added when the directory is committed ([`record`]), so it covers every file
//! the command wrote, whichever writer wrote it; `kubesim plot` updates it for the plots it
//! replaces ([`update`]). `run.json` itself is not listed: it must be kubesim's marker, which is
//! checked apart.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{KEPT_RUNS, MARKER, is_run_file};

/// The field of `run.json` that holds the record.
const FIELD: &str = "files";

/// One file as kubesim wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Written {
    bytes: u64,
    sha256: String,
}

type Record = BTreeMap<String, Written>;

/// Adds to `dir`'s `run.json` the record of the run files beside it, and does the same in each
/// kept run under `runs/`. A directory without `run.json` is left as it is.
pub(super) fn record(dir: &Path) -> io::Result<()> {
    let runs = dir.join(KEPT_RUNS);
    if fs::symlink_metadata(&runs).is_ok_and(|m| m.is_dir()) {
        for entry in fs::read_dir(&runs)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                record(&entry.path())?;
            }
        }
    }
    if !dir.join(MARKER).exists() {
        return Ok(());
    }
    let mut files = Record::new();
    for (name, written) in each_written(dir, file_names(dir)?) {
        files.insert(name, written?);
    }
    write_record(dir, files)
}

/// Each named file's size and SHA-256, in the names' order; the files are read side by side
/// (a large run's HPA decisions and trace are most of a gigabyte).
fn each_written(dir: &Path, names: Vec<String>) -> Vec<(String, io::Result<Written>)> {
    names
        .into_par_iter()
        .map(|name| {
            let written = written(&dir.join(&name));
            (name, written)
        })
        .collect()
}

/// Updates the record in `dir`'s `run.json` for the files `names` (just replaced).
pub(super) fn update(dir: &Path, names: &[String]) -> io::Result<()> {
    let mut files = read_record(dir).map_err(io::Error::other)?;
    for name in names {
        files.insert(name.clone(), written(&dir.join(name))?);
    }
    write_record(dir, files)
}

/// Whether every run file in `dir` (but `run.json`) is as its record says; else what differs.
/// Kept runs under `runs/` are checked against their own records.
pub(super) fn verify(dir: &Path) -> Result<(), String> {
    let files = read_record(dir)?;
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if is_run_file(&name) && !kind.is_file() {
            return Err(format!("{name} is not a regular file"));
        }
    }
    let names = file_names(dir).map_err(|e| e.to_string())?;
    if let Some(name) = names.iter().find(|name| !files.contains_key(*name)) {
        return Err(format!("{name} is not among the files its {MARKER} lists"));
    }
    for (name, actual) in each_written(dir, names) {
        let actual = actual.map_err(|e| format!("{name}: {e}"))?;
        if files.get(&name) != Some(&actual) {
            return Err(format!("{name} was changed after kubesim wrote it"));
        }
    }
    let runs = dir.join(KEPT_RUNS);
    if fs::symlink_metadata(&runs).is_ok_and(|m| m.is_dir()) {
        for entry in fs::read_dir(&runs).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            verify(&entry.path()).map_err(|why| format!("{KEPT_RUNS}/{name}: {why}"))?;
        }
    }
    Ok(())
}

/// The run files directly in `dir` but `run.json`, sorted.
fn file_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MARKER && is_run_file(&name) && entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// A file's size and SHA-256, read in blocks.
fn written(path: &Path) -> io::Result<Written> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Written { bytes, sha256 })
}

/// `run.json`'s fields (it is small: [`super::is_kubesim_marker`] bounds it).
fn read_info(dir: &Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let text = fs::read_to_string(dir.join(MARKER)).map_err(|e| format!("{MARKER}: {e}"))?;
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(fields)) => Ok(fields),
        _ => Err(format!("{MARKER} is not kubesim's")),
    }
}

fn read_record(dir: &Path) -> Result<Record, String> {
    let mut info = read_info(dir)?;
    let Some(files) = info.remove(FIELD) else {
        return Err(format!(
            "its {MARKER} does not list the files written (an older kubesim wrote it, or a person)"
        ));
    };
    serde_json::from_value(files).map_err(|_| format!("its {MARKER} has a damaged list of files"))
}

/// Writes `run.json` again with `files` as its record (through a sibling renamed into place).
fn write_record(dir: &Path, files: Record) -> io::Result<()> {
    let mut info = read_info(dir).map_err(io::Error::other)?;
    info.insert(
        FIELD.into(),
        serde_json::to_value(files).map_err(io::Error::other)?,
    );
    let mut text = serde_json::to_string_pretty(&info).map_err(io::Error::other)?;
    text.push('\n');
    let temporary = dir.join(format!(".{MARKER}.kubesim-{}.partial", std::process::id()));
    fs::write(&temporary, text)?;
    fs::rename(&temporary, dir.join(MARKER)).inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::scratch;
    use super::*;

    fn a_run(dir: &Path) {
        fs::write(dir.join(MARKER), r#"{"kubesim_version": "0", "seed": 1}"#).unwrap();
        fs::write(dir.join("report.json"), "{}\n").unwrap();
        fs::write(dir.join("timeseries.csv"), "t\n0\n").unwrap();
    }

    #[test]
    fn a_recorded_run_verifies_until_a_file_changes() {
        let dir = scratch("changed");
        a_run(&dir);
        assert!(verify(&dir).is_err(), "no record yet");
        record(&dir).unwrap();
        assert_eq!(verify(&dir), Ok(()));
        // Same size, other bytes: the hash tells.
        fs::write(dir.join("report.json"), "[]\n").unwrap();
        let why = verify(&dir).unwrap_err();
        assert!(why.contains("report.json was changed"), "{why}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_run_file_the_record_does_not_list_is_not_kubesims() {
        let dir = scratch("unlisted");
        a_run(&dir);
        record(&dir).unwrap();
        fs::write(dir.join("history.jsonl"), "notes\n").unwrap();
        let why = verify(&dir).unwrap_err();
        assert!(why.contains("history.jsonl is not among"), "{why}");
        // A listed file that is gone is no harm: nothing of anyone's would be deleted.
        fs::remove_file(dir.join("history.jsonl")).unwrap();
        fs::remove_file(dir.join("timeseries.csv")).unwrap();
        assert_eq!(verify(&dir), Ok(()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_update_records_replaced_files() {
        let dir = scratch("update");
        a_run(&dir);
        record(&dir).unwrap();
        fs::write(dir.join("plot-replicas.svg"), "<svg/>").unwrap();
        assert!(verify(&dir).is_err());
        update(&dir, &["plot-replicas.svg".into()]).unwrap();
        assert_eq!(verify(&dir), Ok(()));
        fs::remove_dir_all(&dir).unwrap();
    }
}
