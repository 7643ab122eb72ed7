//! A scratch folder per fuzz target and process, holding a copy of every file the shipped
//! scenarios refer to.

use std::path::{Path, PathBuf};

/// `$TMPDIR/kubesim-fuzz-<target>-<pid>/`, with the files of every `scenarios/*/` folder but
/// the scenarios themselves (a name used by two scenarios keeps one of them: any will do).
#[allow(dead_code)] // not every target that includes this module uses it
pub fn folder_with_scenario_files(target: &str) -> PathBuf {
    let folder = scratch_folder(target);
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for scenario in std::fs::read_dir(scenarios)
        .expect("the shipped scenarios")
        .flatten()
    {
        let Ok(files) = std::fs::read_dir(scenario.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name();
            if file.path().is_file() && name != "scenario.yaml" {
                let _ = std::fs::copy(file.path(), folder.join(name));
            }
        }
    }
    folder
}

/// `$TMPDIR/kubesim-fuzz-<target>-<pid>/`, created (empty the first time).
#[allow(dead_code)] // not every target that includes this module uses it
pub fn scratch_folder(target: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("kubesim-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    folder
}

/// `$TMPDIR/kubesim-fuzz-<target>-<pid>/`, a copy of the shipped `scenarios/<name>/` folder.
#[allow(dead_code)] // not every target that includes this module uses it
pub fn copy_of_scenario(target: &str, name: &str) -> PathBuf {
    let folder = scratch_folder(target);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name);
    for file in std::fs::read_dir(shipped)
        .expect("the shipped scenario")
        .flatten()
    {
        if file.path().is_file() {
            std::fs::copy(file.path(), folder.join(file.file_name())).expect("a copy");
        }
    }
    folder
}
