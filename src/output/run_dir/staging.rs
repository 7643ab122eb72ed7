//! Writing a run directory beside its place and putting it there in one step, and cleaning up
//! after a kubesim that was killed while doing so.
//!
//! Files are written into a fresh hidden sibling, `.NAME.kubesim-PID-N.partial`, holding a
//! marker file ([`STAGING_MARKER`]) that its writer keeps locked (`flock`) while it lives. The
//! commit swaps the sibling with the output directory in a single rename
//! (`renameat2(RENAME_EXCHANGE)`), then deletes the earlier run now in the sibling's place, so
//! the output directory is always either the earlier run or the new one, whenever the process
//! dies. Where the file system cannot swap, two renames do (the earlier run waits as
//! `.NAME.kubesim-PID-N.old`), and the next kubesim to write there puts it back if the process
//! died between them.
//!
//! Every step that leaves an unmarked sibling (creating a staging directory, the commit, a
//! JUnit file's temporary) runs holding a lock on the parent directory. So a kubesim holding
//! that lock may treat every unmarked sibling of kubesim's naming, and every marked one whose
//! marker it can lock, as left by a process that died: [`recover`] restores or removes them,
//! deleting only kubesim's own file names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{ExistingDir, OutDir, OutPathError, existing_contents, is_kubesim_marker};
use super::{KEPT_RUNS, MARKER, manifest, run_file_names};

/// The file that marks a staging directory as being written by a live kubesim (which holds a
/// lock on it).
pub(super) const STAGING_MARKER: &str = ".kubesim-staging";

/// Staging directories being written, for the signal handler to remove.
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn staging_registry() -> MutexGuard<'static, Vec<PathBuf>> {
    STAGING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every staging directory or file still being written, and returns the lock that keeps
/// any other from being renamed into place. A signal handler calls this and exits while holding
/// the returned guard, so it never runs in the middle of the final renames.
pub fn abandon_staging() -> MutexGuard<'static, Vec<PathBuf>> {
    let mut active = staging_registry();
    for path in active.drain(..) {
        remove_staging(&path);
    }
    active
}

/// Writes a run directory at `out`: `write` fills a fresh staging directory, which then takes
/// the place of `out` (replacing an earlier run's files, never anything else).
pub fn write_atomically(
    out: &OutDir,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), OutPathError> {
    let staging = Staging::create(out)?;
    write(staging.path()).map_err(|e| staging.io_error(e))?;
    staging.commit()
}

/// Adds files to an earlier run's directory: `write` fills a fresh staging directory, whose
/// files (which must be run files) then replace their namesakes one by one, each by a rename,
/// and the directory's record of its files is brought up to date.
pub fn add_files(
    out: &OutDir,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> Result<(), OutPathError> {
    let staging = Staging::create(out)?;
    write(staging.path()).map_err(|e| staging.io_error(e))?;
    let _parent = ParentLock::take(out.path());
    let moved = fs::read_dir(staging.path()).and_then(|entries| {
        let mut names = Vec::new();
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name == STAGING_MARKER {
                continue;
            }
            debug_assert!(super::is_run_file(&name));
            fs::rename(staging.path().join(&name), out.path().join(&name))?;
            names.push(name);
        }
        names.sort();
        manifest::update(out.path(), &names)
    });
    moved.map_err(|e| staging.io_error(e))
}

/// A run directory being written: a fresh hidden sibling of the output directory that
/// [`Staging::commit`] puts in its place. Dropped without a commit (an error, a failed run), it
/// is removed; on SIGINT/SIGTERM [`abandon_staging`] removes it.
pub struct Staging {
    dir: PathBuf,
    out: PathBuf,
    /// The marker, locked while this process lives (the lock goes with the process).
    _marker: Option<fs::File>,
    /// Committed (placed, or removed after a failed placement): nothing left to clean up.
    done: bool,
}

impl Staging {
    /// Creates the staging directory beside `out` (and `out`'s parent, if missing), marked as
    /// being written.
    pub fn create(out: &OutDir) -> Result<Staging, OutPathError> {
        let io_err = |source| OutPathError::Io {
            path: out.path.display().to_string(),
            source,
        };
        let parent = out.path.parent().expect("checked: not the root");
        fs::create_dir_all(parent).map_err(io_err)?;
        let _parent = ParentLock::take(&out.path);
        let (dir, marker) = create_staging(&out.path).map_err(io_err)?;
        Ok(Staging {
            dir,
            out: out.path.clone(),
            _marker: marker,
            done: false,
        })
    }

    /// Where the files go until the commit.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// An I/O error while writing, named by the output directory.
    pub fn io_error(&self, source: io::Error) -> OutPathError {
        OutPathError::Io {
            path: self.out.display().to_string(),
            source,
        }
    }

    /// Records the files written in `run.json`, then puts the directory in place of the output
    /// directory, replacing an earlier run's files (checked again now: the directory may have
    /// changed while the run went on).
    pub fn commit(mut self) -> Result<(), OutPathError> {
        manifest::record(&self.dir).map_err(|e| self.io_error(e))?;
        let shown = self.out.display().to_string();
        let _parent = ParentLock::take(&self.out);
        let existing = existing_contents(&self.out, &shown)?;
        let mut active = staging_registry();
        let placed = fs::remove_file(self.dir.join(STAGING_MARKER))
            .and_then(|()| put_in_place(&self.dir, &self.out, existing));
        active.retain(|p| p != &self.dir);
        drop(active);
        if placed.is_err() {
            remove_staging(&self.dir);
        }
        self.done = true;
        placed.map_err(|e| self.io_error(e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            unregister_and_remove(&self.dir);
        }
    }
}

fn put_in_place(staging: &Path, out: &Path, existing: ExistingDir) -> io::Result<()> {
    match existing {
        ExistingDir::None => fs::rename(staging, out),
        ExistingDir::Empty => {
            fs::remove_dir(out)?; // fails, harmlessly, if something appeared in it
            fs::rename(staging, out)
        }
        ExistingDir::EarlierRun if exchange(staging, out)? => {
            // The earlier run is where the staging directory was.
            remove_run_files(staging)
        }
        ExistingDir::EarlierRun => {
            let old = sibling(out, "old")?;
            fs::rename(out, &old)?;
            if let Err(e) = fs::rename(staging, out) {
                let _ = fs::rename(&old, out);
                return Err(e);
            }
            remove_run_files(&old)
        }
    }
}

/// Swaps two directories in one step; `false` where the system or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that live across the call; the system call
    // reads them and writes no memory of ours.
    let result = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Creates `.NAME.kubesim-PID-N.partial` beside `out` (a name nobody else uses) with its locked
/// marker, and registers it. The caller holds the parent's lock.
fn create_staging(out: &Path) -> io::Result<(PathBuf, Option<fs::File>)> {
    let mut active = staging_registry();
    let dir = sibling(out, "partial")?;
    fs::create_dir(&dir)?;
    active.push(dir.clone());
    let marker = fs::File::create(dir.join(STAGING_MARKER)).and_then(|mut file| {
        use io::Write;
        writeln!(file, "kubesim (pid {}) is writing here", std::process::id())?;
        Ok(file)
    });
    let marker = match marker {
        Ok(file) => file,
        Err(e) => {
            active.retain(|p| p != &dir);
            remove_staging(&dir);
            return Err(e);
        }
    };
    // Where locks are not supported, a killed run's directory is left for the user to remove.
    let locked = marker.try_lock().is_ok();
    Ok((dir, locked.then_some(marker)))
}

/// A path beside `out` that does not exist yet: `.NAME.kubesim-PID-N.SUFFIX`.
pub(super) fn sibling(out: &Path, suffix: &str) -> io::Result<PathBuf> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let pid = std::process::id();
    (0..1000)
        .map(|n| out.with_file_name(format!(".{name}.kubesim-{pid}-{n}.{suffix}")))
        .find(|p| fs::symlink_metadata(p).is_err())
        .ok_or_else(|| io::Error::other("no free name for a temporary directory beside it"))
}

/// Writes `contents` to `file` through a temporary sibling renamed into place, holding the
/// parent's lock so that no other kubesim takes the temporary for a dead one's.
pub(super) fn write_file_atomically(file: &Path, contents: &str) -> io::Result<()> {
    write_file_atomically_with(file, |out| out.write_all(contents.as_bytes()))
}

/// [`write_file_atomically`], with `write` filling the temporary sibling through a buffer.
pub(super) fn write_file_atomically_with(
    file: &Path,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    let _parent = ParentLock::take(file);
    let staging = sibling(file, "partial")?;
    staging_registry().push(staging.clone());
    let written = fs::File::create(&staging)
        .and_then(|f| {
            let mut out = io::BufWriter::new(f);
            write(&mut out)?;
            out.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()
        })
        .and_then(|()| {
            let _active = staging_registry();
            fs::rename(&staging, file)
        });
    unregister_and_remove(&staging);
    written
}

fn unregister_and_remove(staging: &Path) {
    let mut active = staging_registry();
    active.retain(|p| p != staging);
    remove_staging(staging);
}

/// Removes a staging file, or a staging directory with the run files in it.
fn remove_staging(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        let _ = fs::remove_file(path);
    } else {
        let _ = remove_run_files(path);
    }
}

/// Deletes the files kubesim writes in `dir` (and in the run directories of its `runs/`), then
/// each directory that this left empty.
fn remove_run_files(dir: &Path) -> io::Result<()> {
    let runs = dir.join(KEPT_RUNS);
    if fs::symlink_metadata(&runs).is_ok_and(|m| m.is_dir()) {
        for entry in fs::read_dir(&runs)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                remove_run_files(&entry.path())?;
            }
        }
        fs::remove_dir(&runs)?;
    }
    let names = run_file_names().chain([STAGING_MARKER.to_string()]);
    for name in names {
        match fs::remove_file(dir.join(&name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    fs::remove_dir(dir)
}

/// An exclusive lock on a directory's parent (`flock`), held while siblings that carry no
/// marker of their own may exist. `None` where the parent cannot be opened or locked.
struct ParentLock(#[allow(dead_code)] Option<fs::File>);

impl ParentLock {
    fn take(path: &Path) -> ParentLock {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let file = fs::File::open(parent).ok().filter(|f| f.lock().is_ok());
        ParentLock(file)
    }
}

/// What a killed kubesim left beside `out`, put right: the earlier run it had moved aside goes
/// back in place if `out` is missing, and its staging directories and temporaries are removed
/// (kubesim's own file names only). Siblings of a live kubesim are left alone.
pub(super) fn recover(out: &Path) -> io::Result<()> {
    let Some(parent) = out.parent() else {
        return Ok(());
    };
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(());
    };
    let _parent = ParentLock::take(out);
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut left = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(kind) = left_behind(&file_name, &name) {
            left.push((kind, entry.path()));
        }
    }
    // The earlier runs moved aside first: one may go back in place.
    left.sort();
    for (kind, path) in left {
        if kind == Leftover::Old && fs::symlink_metadata(out).is_err() && is_complete_run(&path) {
            fs::rename(&path, out)?;
        } else if !in_use(&path) {
            remove_leftover(&path);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Leftover {
    Old,
    Partial,
}

/// Whether `file_name` is kubesim's name for a sibling of `name` (`.NAME.kubesim-PID-N.partial`
/// or `.old`), and which.
fn left_behind(file_name: &str, name: &str) -> Option<Leftover> {
    let rest = file_name.strip_prefix(&format!(".{name}.kubesim-"))?;
    let (numbers, kind) = match rest.rsplit_once('.')? {
        (numbers, "old") => (numbers, Leftover::Old),
        (numbers, "partial") => (numbers, Leftover::Partial),
        _ => return None,
    };
    let (pid, n) = numbers.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n)).then_some(kind)
}

/// A staging directory whose marker a live kubesim holds locked.
fn in_use(path: &Path) -> bool {
    let marker = path.join(STAGING_MARKER);
    match fs::File::open(&marker) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

/// A run directory moved aside whole: kubesim's `run.json` and files as it recorded them.
fn is_complete_run(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
        && is_kubesim_marker(&path.join(MARKER))
        && manifest::verify(path).is_ok()
}

/// Removes a leftover staging directory (its run files), or a temporary file that holds
/// nothing or XML (kubesim's JUnit file being written).
fn remove_leftover(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let _ = remove_run_files(path);
    } else if meta.is_file() && (meta.len() == 0 || starts_as_xml(path)) {
        let _ = fs::remove_file(path);
    }
}

/// Whether a file begins as kubesim's JUnit XML does.
fn starts_as_xml(path: &Path) -> bool {
    use io::Read;
    let mut start = [0u8; 5];
    fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut start).is_ok() && &start == b"<?xml")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{names, scratch};
    use super::*;

    /// A recorded run of two files in `dir`.
    fn a_run(dir: &Path, report: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(MARKER), r#"{"kubesim_version": "0", "seed": 1}"#).unwrap();
        fs::write(dir.join("report.json"), report).unwrap();
        manifest::record(dir).unwrap();
    }

    #[test]
    fn an_earlier_run_moved_aside_by_a_killed_commit_goes_back_in_place() {
        // Killed between the fallback's two renames: `run` is missing, the earlier run waits
        // as `.old`, the new one (complete, unmarked: its marker was removed for the commit)
        // as `.partial`. The earlier run goes back; the new one is removed.
        let dir = scratch("moved-aside");
        a_run(&dir.join(".run.kubesim-4194305-0.old"), "earlier");
        a_run(&dir.join(".run.kubesim-4194305-0.partial"), "newer");
        recover(&dir.join("run")).unwrap();
        assert_eq!(names(&dir), ["run"]);
        assert_eq!(
            fs::read_to_string(dir.join("run/report.json")).unwrap(),
            "earlier"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_live_writers_staging_and_other_names_are_left_alone() {
        let dir = scratch("live");
        a_run(&dir.join("run"), "current");
        // A live writer: its marker is locked (by this process, through another open file).
        let live = dir.join(".run.kubesim-77-0.partial");
        fs::create_dir(&live).unwrap();
        let marker = fs::File::create(live.join(STAGING_MARKER)).unwrap();
        marker.try_lock().unwrap();
        // A dead writer's: marked, unlocked, half written.
        let dead = dir.join(".run.kubesim-78-0.partial");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(STAGING_MARKER), "").unwrap();
        fs::write(dead.join("report.json"), "{\"half\":").unwrap();
        // Not kubesim's names, or another directory's siblings: untouched.
        for other in [
            ".run.kubesim-x-0.partial",
            ".other.kubesim-1-0.partial",
            ".run.old",
        ] {
            fs::create_dir(dir.join(other)).unwrap();
        }
        // An `.old` is not put back while the output directory exists: it is removed.
        a_run(&dir.join(".run.kubesim-79-0.old"), "older");
        recover(&dir.join("run")).unwrap();
        assert_eq!(
            names(&dir),
            [
                ".other.kubesim-1-0.partial",
                ".run.kubesim-77-0.partial",
                ".run.kubesim-x-0.partial",
                ".run.old",
                "run"
            ]
        );
        assert_eq!(
            fs::read_to_string(dir.join("run/report.json")).unwrap(),
            "current"
        );
        drop(marker);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_commit_swaps_the_new_run_in_and_leaves_nothing_beside_it() {
        let dir = scratch("swap");
        let out = OutDir {
            path: dir.join("run"),
        };
        for report in ["first", "second"] {
            write_atomically(&out, |staging| {
                fs::write(
                    staging.join(MARKER),
                    r#"{"kubesim_version": "0", "seed": 1}"#,
                )?;
                fs::write(staging.join("report.json"), report)
            })
            .unwrap();
            assert_eq!(names(&dir), ["run"]);
            assert_eq!(names(&out.path), ["report.json", "run.json"]);
            assert_eq!(
                fs::read_to_string(out.path.join("report.json")).unwrap(),
                report
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
