#!/usr/bin/env python3
"""Checks that each lesson's claims still hold: runs the commands in every
lessons/*/check.toml with a kubesim binary and fails on a missing sentence or a
wrong exit code, so a lesson cannot rot when the models change.

    python3 lessons/check.py target/release/kubesim [LESSON...]

check.toml (TOML, read with Python's tomllib):

    scenario = "../../scenarios/node-failure"   # relative to the lesson's folder
    [[check]]
    run = ["explain", "--node", "general-1"]   # kubesim SUBCOMMAND SCENARIO ARGS...
    contains = ["01:00:50  NodeNotReady"]       # each must appear in stdout
    excludes = ["NodeTaintHeld"]                # none may (optional)
    exit = 0                                    # the default

The scenario goes right after the subcommand, unless an argument says where
(`{scenario}`) or the subcommand is `get`, which reads a run's folder. `{out}` is one
scratch folder per lesson, removed afterwards: a `run` check may write it
(`run = ["run", "--no-plots", "--out", "{out}"]`) and later `get` checks read it
(`run = ["get", "pods", "{out}", "--at", "30s"]`). A check with `file` instead of
`run` looks for its sentences in a file of that run (`file = "report.json"`). A check's
own `scenario` replaces the lesson's for it.
"""
import pathlib
import subprocess
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit("lessons/check.py needs Python 3.11 or later (tomllib)")

HERE = pathlib.Path(__file__).resolve().parent


def check_lesson(kubesim, folder):
    """Runs one lesson's checks; returns the failures as sentences."""
    spec_file = folder / "check.toml"
    try:
        spec = tomllib.loads(spec_file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        return [f"{spec_file}: {e}"]
    scenario = (folder / spec.get("scenario", "scenario.yaml")).resolve()
    failures = []
    with tempfile.TemporaryDirectory(prefix="kubesim-lesson-") as scratch:
        out = str(pathlib.Path(scratch) / "out")
        for i, check in enumerate(spec.get("check", []), 1):
            failures += run_check(kubesim, folder, scenario, out, i, check)
    return failures


def run_check(kubesim, folder, scenario, out, i, check):
    """Runs check number `i` of a lesson; returns its failures as sentences."""
    if "file" in check:
        path = pathlib.Path(out) / check["file"]
        try:
            text = path.read_text()
        except OSError as e:
            return [f"{folder.name}: cannot read the run's {check['file']}: {e}"]
        return compare(folder, f"the run's {check['file']}", text, check)
    run = check.get("run")
    if not run:
        return [f"{folder / 'check.toml'}: check {i} has neither `run` nor `file`"]
    if "scenario" in check:
        scenario = (folder / check["scenario"]).resolve()
    fill = {"{out}": out, "{scenario}": str(scenario)}
    args = [fill.get(a, a) for a in run]
    if "{scenario}" not in run and run[0] != "get":
        args.insert(1, str(scenario))
    done = subprocess.run([kubesim, *args], capture_output=True, text=True, cwd=HERE.parent)
    shown = " ".join(["kubesim", *args]).replace(str(HERE.parent) + "/", "")
    failures = []
    want_exit = check.get("exit", 0)
    if done.returncode != want_exit:
        failures.append(f"{folder.name}: `{shown}` exited {done.returncode}, not {want_exit}: {done.stderr.strip()[-400:]}")
    return failures + compare(folder, f"`{shown}`", done.stdout, check)


def compare(folder, what, text, check):
    """The check's `contains` missing from `text` and its `excludes` found in it."""
    failures = []
    for sentence in check.get("contains", []):
        if sentence not in text:
            failures.append(f"{folder.name}: {what} no longer says: {sentence}")
    for sentence in check.get("excludes", []):
        if sentence in text:
            failures.append(f"{folder.name}: {what} now says: {sentence}")
    return failures


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    kubesim = str(pathlib.Path(sys.argv[1]).resolve())
    wanted = set(sys.argv[2:])
    folders = sorted(p.parent for p in HERE.glob("*/check.toml"))
    if wanted:
        folders = [f for f in folders if f.name in wanted]
        missing = wanted - {f.name for f in folders}
        if missing:
            sys.exit(f"no lesson {', '.join(sorted(missing))} (lessons: {', '.join(p.parent.name for p in sorted(HERE.glob('*/check.toml')))})")
    failed = 0
    for folder in folders:
        failures = check_lesson(kubesim, folder)
        print(f"{'PASS' if not failures else 'FAIL'} {folder.name}")
        for f in failures:
            print(f"  {f}")
        failed += bool(failures)
    if failed:
        sys.exit(f"{failed} of {len(folders)} lessons no longer hold")


if __name__ == "__main__":
    main()
