//! Where a run's files may go, and how they get there without harming anything else.
//!
//! kubesim replaces a directory only when it wrote that directory itself: it is empty, or it holds
//! nothing but the files of an earlier run, each still as that run's `run.json` records it (name,
//! size, SHA-256: the `manifest` module). It never treats the working directory, the scenario's
//! folder, a parent of either, or a directory the command reads (or anything inside one) as an
//! output directory. Files are written into a fresh hidden sibling that takes the output
//! directory's place in one step (the `staging` module): whenever the process dies, the output
//! directory is the earlier run or the new one, and the next kubesim to write there removes what a
//! killed one left. On an error, and on SIGINT/SIGTERM (the command line calls [`abandon_staging`]
//! from its signal handler), the sibling is removed. Removal deletes only the file names kubesim
//! writes, then the emptied directory, so a file that appears there by other hands is never
//! deleted.
//!
//! This module does no simulation; it answers "may I write here" and performs the write.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

mod manifest;
mod staging;

pub use staging::{Staging, abandon_staging, add_files, write_atomically};

/// Every file name a run directory can hold. A directory holding anything else was not written
/// by kubesim (or was changed since) and is never replaced. Add new outputs here.
pub const RUN_FILES: &[&str] = &[
    "report.json",
    "run.json",
    "timeseries.csv",
    "hpa_decisions.jsonl",
    "autoscaler.jsonl",
    "karpenter.jsonl",
    "vpa.jsonl",
    "pod_events.jsonl",
    "cluster_events.jsonl",
    "history.jsonl",
    "trace.json",
    "scenario.resolved.yaml",
    "sweep.json",
    "sweep.csv",
    "shard.json",
    "report.html",
];

/// Whether kubesim writes a file called `name` into run directories: one of [`RUN_FILES`], a
/// plot (`plot-*.svg|png`, a sweep's `plot-frontier.svg`), or trace.json's part while it runs.
pub fn is_run_file(name: &str) -> bool {
    run_file_names().any(|n| n == name)
}

/// [`RUN_FILES`], every plot's name in both formats, a sweep's frontier figure, and the part of
/// trace.json that `kubesim run` writes while it runs.
fn run_file_names() -> impl Iterator<Item = String> {
    (RUN_FILES.iter().map(|n| n.to_string()))
        .chain(super::plot::file_names())
        .chain([super::sweep::figure::FILE.to_string()])
        .chain([super::timeline::HPA_EVENTS_FILE.to_string()])
        .chain(super::calibrate::FILES.iter().map(|n| n.to_string()))
        .chain(super::calibrate::traffic_file_names())
}

/// The directory of a sweep's kept runs (`--keep-runs`): one run directory per replication.
pub const KEPT_RUNS: &str = "runs";

/// The file whose presence (with kubesim's fields) marks a directory as a kubesim run.
const MARKER: &str = "run.json";

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
pub enum OutPathError {
    /// The path is the root, the working directory, the scenario's folder, or a parent of
    /// one of them.
    #[error(
        "{path}: is {what}; kubesim writes only into a directory of its own: name a new directory (inside it, if you like)"
    )]
    Protected {
        /// The path as it was given.
        path: String,
        /// Which it is: `the root directory`, `the current directory`, `a parent of the
        /// scenario's folder`, ….
        what: String,
    },
    /// Something other than a directory is at the path.
    #[error("{path}: is a file, not a directory; name a directory that does not exist yet")]
    NotADirectory {
        /// The output path.
        path: String,
    },
    /// The path is a symbolic link.
    #[error("{path}: is a symbolic link; name the directory itself")]
    Symlink {
        /// The path as it was given.
        path: String,
    },
    /// The directory holds files kubesim did not write, or lacks its `run.json`; or the JUnit
    /// file exists and is not one kubesim wrote.
    #[error(
        "{path}: holds files kubesim did not write ({entries}); nothing was changed — pick another output directory"
    )]
    ForeignContents {
        /// The directory or JUnit file.
        path: String,
        /// The names kubesim does not write (five at most, then how many more), or what else
        /// is wrong.
        entries: String,
    },
    /// The path goes through `..` below a directory that does not exist, so it cannot be
    /// resolved.
    #[error(
        "{path}: goes through '..' below a directory that does not exist; name the directory plainly"
    )]
    Unresolvable {
        /// The path as it was given.
        path: String,
    },
    /// The directory is not a run directory kubesim wrote ([`check_run_dir`]).
    #[error("{path}: is not a run directory ({why}); name a directory that kubesim run wrote")]
    NotARun {
        /// The path as it was given.
        path: String,
        /// Why not: it does not exist, is empty, or holds files kubesim does not write.
        why: String,
    },
    /// Reading, creating, writing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The output directory or JUnit file it happened to.
        path: String,
        /// The failure.
        source: io::Error,
    },
}

/// An output directory that passed [`check_out_dir`]: its absolute, resolved path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// The directory's absolute path (its existing part with symbolic links resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A directory that must be neither the output directory nor inside it; an input directory
/// (one the command reads, such as a shard being merged) must not hold the output either.
#[derive(Clone, Debug)]
pub struct Protected {
    dir: PathBuf,
    what: &'static str,
    /// The output may not be inside it either.
    read: bool,
}

impl Protected {
    /// The working directory.
    pub fn current_dir() -> Protected {
        Protected::new(Path::new("."), "the current directory")
    }

    /// The folder a scenario file is in.
    pub fn scenario_folder(scenario_file: &Path) -> Protected {
        let folder = scenario_file.parent().unwrap_or(Path::new("."));
        Protected::new(folder, "the scenario's folder")
    }

    /// A directory the command reads (a shard being merged, a baseline): the output may be
    /// neither it, nor a parent of it, nor inside it.
    pub fn input_dir(dir: &Path, what: &'static str) -> Protected {
        Protected {
            read: true,
            ..Protected::new(dir, what)
        }
    }

    fn new(dir: &Path, what: &'static str) -> Protected {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let dir = fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .unwrap_or_else(|_| dir.to_path_buf());
        Protected {
            dir,
            what,
            read: false,
        }
    }
}

/// Checks that `out` may receive a run directory, before anything is simulated or written.
pub fn check_out_dir(out: &Path, protected: &[Protected]) -> Result<OutDir, OutPathError> {
    let shown = out.display().to_string();
    let path = resolve(out).map_err(|e| match e {
        Resolve::Io(source) => OutPathError::Io {
            path: shown.clone(),
            source,
        },
        Resolve::ParentOfMissing => OutPathError::Unresolvable {
            path: shown.clone(),
        },
        Resolve::Symlink => OutPathError::Symlink {
            path: shown.clone(),
        },
    })?;
    if let Some(what) = protection(&path, protected) {
        return Err(OutPathError::Protected { path: shown, what });
    }
    staging::recover(&path).map_err(|source| OutPathError::Io {
        path: shown.clone(),
        source,
    })?;
    existing_contents(&path, &shown)?;
    Ok(OutDir { path })
}

/// Checks that `dir` is a run directory kubesim wrote (its `run.json`, and only its files), for
/// commands that add files to one (`kubesim plot`).
pub fn check_run_dir(dir: &Path) -> Result<OutDir, OutPathError> {
    let shown = dir.display().to_string();
    let not_a_run = |why: String| OutPathError::NotARun {
        path: shown.clone(),
        why,
    };
    let out = check_out_dir(dir, &[]).map_err(|e| match e {
        OutPathError::ForeignContents { entries, .. } => {
            not_a_run(format!("it holds files kubesim does not write: {entries}"))
        }
        other => other,
    })?;
    match existing_contents(&out.path, &shown)? {
        ExistingDir::EarlierRun => Ok(out),
        ExistingDir::None => Err(not_a_run("it does not exist".into())),
        ExistingDir::Empty => Err(not_a_run("it is empty".into())),
    }
}

/// What `path` is to a protected directory, if it is that directory or one of its parents.
fn protection(path: &Path, protected: &[Protected]) -> Option<String> {
    if path.parent().is_none() {
        return Some("the root directory".into());
    }
    if let Some(p) = protected.iter().find(|p| p.dir.starts_with(path)) {
        return Some(if p.dir == path {
            p.what.to_string()
        } else {
            format!("a parent of {}", p.what)
        });
    }
    let p = protected
        .iter()
        .find(|p| p.read && path.starts_with(&p.dir))?;
    Some(format!("inside {} ({})", p.what, p.dir.display()))
}

enum Resolve {
    Io(io::Error),
    ParentOfMissing,
    Symlink,
}

/// The absolute path `out` names: the existing part canonicalized, the rest appended.
fn resolve(out: &Path) -> Result<PathBuf, Resolve> {
    let absolute = std::path::absolute(out).map_err(Resolve::Io)?;
    if fs::symlink_metadata(&absolute).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Resolve::Symlink);
    }
    let existing = absolute
        .ancestors()
        .find(|a| a.exists())
        .expect("the root exists");
    let mut path = fs::canonicalize(existing).map_err(Resolve::Io)?;
    let rest = absolute
        .strip_prefix(existing)
        .expect("an ancestor is a prefix");
    for component in rest.components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::CurDir => {}
            _ => return Err(Resolve::ParentOfMissing),
        }
    }
    Ok(path)
}

/// What an existing output path holds: nothing, or only an earlier run's files.
fn existing_contents(path: &Path, shown: &str) -> Result<ExistingDir, OutPathError> {
    let io_err = |source| OutPathError::Io {
        path: shown.to_string(),
        source,
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ExistingDir::None),
        Err(e) => return Err(io_err(e)),
    };
    if !meta.is_dir() {
        return Err(OutPathError::NotADirectory {
            path: shown.to_string(),
        });
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(io_err)? {
        names.push(
            entry
                .map_err(io_err)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    names.sort();
    if names.is_empty() {
        return Ok(ExistingDir::Empty);
    }
    let foreign: Vec<&String> = names
        .iter()
        .filter(|n| !is_run_file(n) && !is_kept_runs(path, n))
        .collect();
    let listed = if !foreign.is_empty() {
        summarize(&foreign)
    } else if !is_kubesim_marker(&path.join(MARKER)) {
        format!("no kubesim {MARKER} among {}", names.join(", "))
    } else {
        match manifest::verify(path) {
            Ok(()) => return Ok(ExistingDir::EarlierRun),
            Err(why) => why,
        }
    };
    Err(OutPathError::ForeignContents {
        path: shown.to_string(),
        entries: listed,
    })
}

fn summarize(names: &[&String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(|s| s.as_str()).collect();
    match names.len() - shown.len() {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}

/// `runs/` of an earlier sweep: a real directory holding only run directories of kubesim's files.
fn is_kept_runs(dir: &Path, name: &str) -> bool {
    let only = |path: &Path, entry_ok: &dyn Fn(&fs::DirEntry) -> bool| {
        fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
            && fs::read_dir(path)
                .is_ok_and(|mut entries| entries.all(|e| e.is_ok_and(|e| entry_ok(&e))))
    };
    let run_file = |e: &fs::DirEntry| {
        is_run_file(&e.file_name().to_string_lossy()) && e.file_type().is_ok_and(|t| t.is_file())
    };
    name == KEPT_RUNS && only(&dir.join(name), &|run| only(&run.path(), &run_file))
}

/// A `run.json` that kubesim wrote: a regular file, JSON, with kubesim's own fields.
fn is_kubesim_marker(path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > 1 << 20 {
        return false;
    }
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| {
        v.get("kubesim_version").is_some_and(|x| x.is_string())
            && v.get("seed").is_some_and(|x| x.is_u64())
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExistingDir {
    None,
    Empty,
    EarlierRun,
}

/// Restores or removes what a killed kubesim left beside `file` (its temporary siblings); the
/// file's name as errors show it.
fn recover_beside(file: &Path) -> Result<String, OutPathError> {
    let shown = file.display().to_string();
    staging::recover(file).map_err(|source| OutPathError::Io {
        path: shown.clone(),
        source,
    })?;
    Ok(shown)
}

/// Checks that `file` may receive kubesim's JUnit XML: it does not exist, or kubesim wrote it.
pub fn check_junit_file(file: &Path) -> Result<(), OutPathError> {
    let shown = recover_beside(file)?;
    let meta = match fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(OutPathError::Io {
                path: shown,
                source,
            });
        }
    };
    let ours = meta.is_file()
        && fs::read_to_string(file)
            .is_ok_and(|t| t.starts_with("<?xml") && t.contains(super::junit::SUITES_OPENING));
    if ours {
        Ok(())
    } else {
        Err(OutPathError::ForeignContents {
            path: shown,
            entries: "it exists and is not a JUnit file kubesim wrote".into(),
        })
    }
}

/// Writes JUnit XML to `file` (checked again first) through a temporary sibling renamed into
/// place.
pub fn write_junit_file(file: &Path, xml: &str) -> Result<(), OutPathError> {
    check_junit_file(file)?;
    staging::write_file_atomically(file, xml).map_err(|source| OutPathError::Io {
        path: file.display().to_string(),
        source,
    })
}

/// Whether `--openmetrics` may write `file` (after recovering what a killed kubesim left
/// beside it): it does not exist, or an earlier export wrote it.
pub fn check_openmetrics_file(file: &Path) -> Result<(), OutPathError> {
    let shown = recover_beside(file)?;
    super::openmetrics::check_writable(file).map_err(|entries| OutPathError::ForeignContents {
        path: shown,
        entries,
    })
}

/// Writes an OpenMetrics export to `file` (checked again first) through a temporary sibling
/// renamed into place; `write` fills it.
pub fn write_openmetrics_file(
    file: &Path,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> Result<(), OutPathError> {
    check_openmetrics_file(file)?;
    staging::write_file_atomically_with(file, write).map_err(|source| OutPathError::Io {
        path: file.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for test `name` (shared by run_dir's test modules).
    pub(super) fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kubesim-run-dir-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The sorted names in `dir`.
    pub(super) fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_write_leaves_neither_output_nor_staging() {
        let dir = scratch("failed");
        let out = check_out_dir(&dir.join("run"), &[]).unwrap();
        let result = write_atomically(&out, |staging| {
            fs::write(staging.join("report.json"), "{}")?;
            Err(io::Error::other("disk full"))
        });
        assert!(result.is_err());
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abandoning_removes_what_is_being_written() {
        // As the signal handler does, halfway through writing the files.
        let dir = scratch("abandoned");
        let out = check_out_dir(&dir.join("run"), &[]).unwrap();
        let result = write_atomically(&out, |staging| {
            fs::write(staging.join("report.json"), "{\"half\":")?;
            drop(abandon_staging());
            assert!(!staging.exists(), "the staging directory is gone");
            Err(io::Error::other("interrupted"))
        });
        assert!(result.is_err());
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_appears_in_staging_is_not_deleted() {
        // Only kubesim's own file names are removed: a stranger's file keeps the directory.
        let dir = scratch("stranger");
        let out = check_out_dir(&dir.join("run"), &[]).unwrap();
        let mut staging_seen = PathBuf::new();
        let _ = write_atomically(&out, |staging| {
            staging_seen = staging.to_path_buf();
            fs::write(staging.join("report.json"), "{}")?;
            fs::write(staging.join("theirs.txt"), "keep")?;
            Err(io::Error::other("failed"))
        });
        assert_eq!(names(&staging_seen), ["theirs.txt"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_path_through_dot_dot_is_refused() {
        let dir = scratch("dotdot");
        let err = check_out_dir(&dir.join("nope/../run"), &[]).unwrap_err();
        assert!(matches!(err, OutPathError::Unresolvable { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
