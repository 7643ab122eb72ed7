//! Which files a manifest argument names, as `kubectl apply -f` reads them: a file as it is, a
//! folder as the `.yaml`, `.yml` and `.json` files in it (in name order; its subfolders too
//! when recursive, as with `-R`), and `-` as standard input (kustomize or Helm output piped in).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::read::{MAX_INPUT_BYTES, ReadError, read_text};

/// The extensions of the files a folder contributes.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// The name under which standard input's text is reported.
pub const STDIN_NAME: &str = "<stdin>";

/// The manifest files `path` names: itself, or a folder's files (see the module doc). A folder
/// with none is an error, as it is for kubectl.
pub fn manifest_paths(path: &Path, recursive: bool) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    collect(path, recursive, &mut found)?;
    if found.is_empty() {
        let depth = if recursive { " or below it" } else { "" };
        return Err(format!(
            "{} holds no .yaml, .yml or .json file{depth}",
            path.display()
        ));
    }
    Ok(found)
}

fn collect(folder: &Path, recursive: bool, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("cannot read the folder {}: {e}", folder.display()))?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if recursive {
                collect(&p, recursive, found)?;
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            found.push(p);
        }
    }
    Ok(())
}

/// Whether `path` stands for standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A manifest file's text (a regular file of at most [`MAX_INPUT_BYTES`]), or standard
/// input's for `-` (read to the same bound).
pub fn read_manifest_text(path: &Path) -> Result<String, ReadError> {
    if is_stdin(path) {
        let mut text = String::new();
        let read = std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_string(&mut text)?;
        if read as u64 > MAX_INPUT_BYTES {
            let (size, max) = (read as u64, MAX_INPUT_BYTES);
            return Err(ReadError::TooLarge { size, max });
        }
        return Ok(text);
    }
    read_text(path, MAX_INPUT_BYTES)
}

/// The name a manifest file's diagnostics carry.
pub fn display_name(path: &Path) -> String {
    match is_stdin(path) {
        true => STDIN_NAME.to_string(),
        false => path.display().to_string(),
    }
}

/// The scenario a command argument names: a folder holding a `scenario.yaml` stands for it.
pub fn scenario_file(path: &Path) -> PathBuf {
    let inside = path.join("scenario.yaml");
    match path.is_dir() && inside.is_file() {
        true => inside,
        false => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_names_its_manifest_files_in_order_and_below_it_when_recursive() {
        let dir =
            std::env::temp_dir().join(format!("kubesim-manifest-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["b.yaml", "a.json", "c.yml", "notes.txt", "sub/d.yaml"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let names = |recursive| -> Vec<String> {
            let paths = manifest_paths(&dir, recursive).unwrap();
            paths
                .iter()
                .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names(false), ["a.json", "b.yaml", "c.yml"]);
        assert_eq!(names(true), ["a.json", "b.yaml", "c.yml", "sub/d.yaml"]);
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let err = manifest_paths(&dir.join("empty"), true).unwrap_err();
        assert!(
            err.ends_with("holds no .yaml, .yml or .json file or below it"),
            "{err}"
        );
        assert_eq!(
            scenario_file(&dir),
            dir,
            "no scenario.yaml: the folder itself"
        );
        std::fs::write(dir.join("scenario.yaml"), "").unwrap();
        assert_eq!(scenario_file(&dir), dir.join("scenario.yaml"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
