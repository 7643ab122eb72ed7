#!/usr/bin/env python3
"""Build data/runs.csv from the inference-sim/training repository.

Usage:
    python3 extract.py SOURCE [-o OUT.csv] [--commit REV]

SOURCE is either
  * a bare git directory of github.com/inference-sim/training
    (e.g. the mirror /work/.mirror/inference-sim+training/repo), read with
    `git --git-dir=SOURCE show REV:path`, or
  * a checked-out / extracted folder of that repository (contains default_args/).

One output row per load stage (results/stage_<N>_lifecycle_metrics.json) of
each experiment directory under default_args/.  Python 3 standard library only.
See data/README.md for the meaning and units of every column.
"""

import argparse
import csv
import json
import os
import subprocess
import sys

# ---------------------------------------------------------------------------
# Facts about these runs that are NOT in the per-run files.  Each comes from a
# cited document; everything else in the CSV is read from the run files.
# ---------------------------------------------------------------------------
# training/DESIGN.md ("Dataset"): "collected with inference-perf against
# instrumented vLLM on H100 SXM GPUs".
GPU = "H100 SXM"
# inference-sim/inference-sim docs/plans/2026-02-26-stepml-research-design.md
# ("Model/GPU/TP Coverage"): "All on H100 80GB, vLLM v0.15.1,
# max_model_len=4096, max_num_batched_tokens=2048, max_num_seqs=128, chunked
# prefill enabled, prefix caching enabled."  (vLLM = inference-sim's
# instrumented fork with journey/step tracing.)
VLLM_VERSION = "0.15.1"
CHUNKED_PREFILL = "true"
PREFIX_CACHING = "true"
# training/schemas.py, BlockStoredEvent.block_size: "Number of tokens per KV
# cache block (always 16 in this dataset)" (observed in the runs' kv_events).
BLOCK_SIZE = "16"
# gpu_memory_utilization: not recorded anywhere for these runs -> left empty.
GPU_MEMORY_UTILIZATION = ""
# "GPU KV cache size: N tokens" from each run's vllm.log (the log itself is
# git-ignored in training); values per model as tabulated in
# inference-sim/sim-to-real-accuracy-validation
# docs/plans/2026-03-04-sim-to-real-accuracy-validation-design.md, s. 4.2.
GPU_KV_CACHE_TOKENS = {
    "meta-llama/Llama-2-7b-hf": 119408,
    "meta-llama/Llama-2-70b-hf": 501712,
    "mistralai/Mixtral-8x7B-v0.1": 440176,
    "codellama/CodeLlama-34b-Instruct-hf": 425648,
}

COLUMNS = [
    # identity
    "run_id", "stage", "run_date", "profile", "source_commit",
    # server
    "model", "gpu", "tp", "vllm_version", "max_model_len", "max_num_seqs",
    "max_num_batched_tokens", "block_size", "prefix_caching", "chunked_prefill",
    "gpu_memory_utilization", "gpu_kv_cache_tokens", "excluded_overload_in_source",
    # workload spec (client)
    "workload_type", "load_type", "api_type", "streaming", "ignore_eos",
    "request_rate", "concurrency", "duration_s",
    "num_groups", "num_prompts_per_group",
    "profile_num_unique_system_prompts", "profile_num_users_per_system_prompt",
    "profile_enable_multi_turn_chat",
    "shared_prefix_tokens", "unique_prompt_tokens_mean", "output_tokens_spec",
    "num_workers", "worker_max_concurrency",
    # load actually offered
    "num_requests", "completed", "failed", "achieved_rate", "send_duration_s",
    "schedule_delay_mean_ms", "schedule_delay_p99_ms",
    # measured token counts (successful requests, client-side tokenizer)
    "prompt_tokens_mean", "prompt_tokens_min", "prompt_tokens_max",
    "output_tokens_mean", "output_tokens_min", "output_tokens_p50", "output_tokens_max",
    # latency (successful requests)
    "ttft_mean_ms", "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms",
    "itl_mean_ms", "itl_p50_ms", "itl_p90_ms", "itl_p99_ms",
    "tpot_mean_ms", "tpot_p50_ms", "tpot_p99_ms", "ntpot_mean_ms",
    "e2e_mean_ms", "e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms", "e2e_max_ms",
    "failed_latency_mean_ms",
    # throughput (successful requests)
    "throughput_req_s", "input_tokens_s", "output_tokens_s", "total_tokens_s",
    # derived (not in source; see README)
    "derived_decode_ms_per_token",
]


# ---------------------------------------------------------------------------
# Source access
# ---------------------------------------------------------------------------
class Source:
    def __init__(self, path, commit):
        self.path = path
        if os.path.isdir(os.path.join(path, "default_args")):
            self.mode = "dir"
            self.commit = ""
            try:
                self.commit = subprocess.run(
                    ["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                    text=True, check=True).stdout.strip()
            except (OSError, subprocess.CalledProcessError):
                pass
        else:
            self.mode = "git"
            self.commit = self._git("rev-parse", commit).strip()

    def _git(self, *args):
        return subprocess.run(["git", "--git-dir", self.path] + list(args),
                              capture_output=True, text=True, check=True).stdout

    def read(self, rel):
        """Return file text, or None if absent."""
        if self.mode == "dir":
            p = os.path.join(self.path, rel)
            if not os.path.isfile(p):
                return None
            with open(p, encoding="utf-8") as fh:
                return fh.read()
        try:
            return self._git("show", "%s:%s" % (self.commit, rel))
        except subprocess.CalledProcessError:
            return None

    def listdir(self, rel):
        if self.mode == "dir":
            return sorted(os.listdir(os.path.join(self.path, rel)))
        out = self._git("ls-tree", "--name-only", "%s:%s" % (self.commit, rel))
        return sorted(x for x in out.splitlines() if x)


# ---------------------------------------------------------------------------
# Minimal YAML reader for the simple block-style files in this dataset
# (mappings, "- key: value" lists of mappings, scalars, null, [], {}).
# ---------------------------------------------------------------------------
def _scalar(s):
    s = s.strip()
    if s in ("", "null", "~"):
        return None
    if s == "[]":
        return []
    if s == "{}":
        return {}
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def parse_yaml(text):
    text = text.strip()
    if text.startswith("{"):          # profile.yaml is single-line JSON
        return json.loads(text)
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        lines.append((len(raw) - len(raw.lstrip(" ")), raw.strip()))
    pos = [0]

    def block(indent):
        if pos[0] < len(lines) and lines[pos[0]][1].startswith("- "):
            return seq(indent)
        return mapping(indent)

    def mapping(indent, first=None):
        out = {}
        if first is not None:
            k, v = first
            out[k] = v
        while pos[0] < len(lines):
            ind, content = lines[pos[0]]
            if ind < indent or content.startswith("- "):
                break
            pos[0] += 1
            key, _, rest = content.partition(":")
            if rest.strip() == "":
                if pos[0] < len(lines) and (lines[pos[0]][0] > ind or
                                            (lines[pos[0]][0] == ind and lines[pos[0]][1].startswith("- "))):
                    out[key.strip()] = block(lines[pos[0]][0])
                else:
                    out[key.strip()] = None
            else:
                out[key.strip()] = _scalar(rest)
        return out

    def seq(indent):
        out = []
        while pos[0] < len(lines):
            ind, content = lines[pos[0]]
            if ind != indent or not content.startswith("- "):
                break
            item = content[2:]
            pos[0] += 1
            if ":" in item and not item.startswith(("'", '"')):
                key, _, rest = item.partition(":")
                sub_indent = ind + 2
                if rest.strip() == "":
                    val = block(lines[pos[0]][0]) if pos[0] < len(lines) and lines[pos[0]][0] > ind else None
                else:
                    val = _scalar(rest)
                out.append(mapping(sub_indent, (key.strip(), val)))
            else:
                out.append(_scalar(item))
        return out

    return block(lines[0][0]) if lines else {}


# ---------------------------------------------------------------------------
def fmt(x, scale=1.0):
    if x is None or x == "":
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int) and scale == 1.0:
        return str(x)
    v = float(x) * scale
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return ("%.4f" % v).rstrip("0").rstrip(".")


def dist(d, key):
    return None if not d else d.get(key)


def excluded_overload(src):
    """Directory names listed in split.py EXCLUDED_OVERLOAD (None if unknown)."""
    text = src.read("split.py")
    if not text or "EXCLUDED_OVERLOAD" not in text:
        return None
    tail = text.split("EXCLUDED_OVERLOAD: tuple", 1)[-1].split("\n)\n", 1)[0]
    names = set()
    for line in tail.splitlines():
        line = line.strip()
        if line.startswith('dir_name="'):
            names.add(line.split('"')[1])
    return names


def rows_for_run(src, run, excluded):
    base = "default_args/" + run
    exp = parse_yaml(src.read(base + "/exp-config.yaml") or "") or {}
    prof_text = src.read(base + "/profile.yaml")
    prof = parse_yaml(prof_text) if prof_text else {}
    cfg_text = src.read(base + "/results/config.yaml")
    cfg = parse_yaml(cfg_text) if cfg_text else {}

    data = cfg.get("data") or {}
    sp = data.get("shared_prefix") or {}
    load = cfg.get("load") or {}
    api = cfg.get("api") or {}
    server = cfg.get("server") or {}
    psp = ((prof.get("data") or {}).get("shared_prefix")) or {}
    stages_cfg = load.get("stages") or []

    model = exp.get("model") or server.get("model_name")
    parts = run.split("-")
    run_date = parts[0] if parts and parts[0].isdigit() and len(parts[0]) == 8 else ""
    profile = parts[-1]

    stage_files = sorted(
        (f for f in src.listdir(base + "/results")
         if f.startswith("stage_") and f.endswith("_lifecycle_metrics.json")),
        key=lambda f: int(f.split("_")[1]))
    out = []
    for f in stage_files:
        idx = int(f.split("_")[1])
        m = json.loads(src.read(base + "/results/" + f))
        ls = m.get("load_summary") or {}
        su = m.get("successes") or {}
        fa = m.get("failures") or {}
        lat = su.get("latency") or {}
        thr = su.get("throughput") or {}
        pl = su.get("prompt_len") or {}
        ol = su.get("output_len") or {}
        ttft = lat.get("time_to_first_token")
        itl = lat.get("inter_token_latency")
        tpot = lat.get("time_per_output_token")
        ntpot = lat.get("normalized_time_per_output_token")
        e2e = lat.get("request_latency")
        st = stages_cfg[idx] if idx < len(stages_cfg) else {}
        sd = ls.get("schedule_delay")

        derived = ""
        out_spec = sp.get("output_len")
        if e2e and ttft and out_spec and out_spec > 1:
            derived = fmt((e2e["mean"] - ttft["mean"]) / (out_spec - 1), 1000.0)

        r = {
            "run_id": run, "stage": idx, "run_date": run_date, "profile": profile,
            "source_commit": src.commit,
            "model": model, "gpu": GPU, "tp": exp.get("tensor_parallelism"),
            "vllm_version": VLLM_VERSION, "max_model_len": exp.get("max_model_len"),
            "max_num_seqs": exp.get("max_num_seqs"),
            "max_num_batched_tokens": exp.get("max_num_batched_tokens"),
            "block_size": BLOCK_SIZE, "prefix_caching": PREFIX_CACHING,
            "chunked_prefill": CHUNKED_PREFILL,
            "gpu_memory_utilization": GPU_MEMORY_UTILIZATION,
            "gpu_kv_cache_tokens": GPU_KV_CACHE_TOKENS.get(model, ""),
            "excluded_overload_in_source": "" if excluded is None else (run in excluded),
            "workload_type": data.get("type"), "load_type": load.get("type"),
            "api_type": api.get("type"), "streaming": api.get("streaming"),
            "ignore_eos": server.get("ignore_eos"),
            "request_rate": st.get("rate") if load.get("type") != "concurrent" else None,
            "concurrency": st.get("concurrency_level", st.get("concurrency")),
            "duration_s": st.get("duration"),
            "num_groups": sp.get("num_groups", sp.get("num_unique_system_prompts")),
            "num_prompts_per_group": sp.get("num_prompts_per_group",
                                            sp.get("num_users_per_system_prompt")),
            "profile_num_unique_system_prompts": psp.get("num_unique_system_prompts",
                                                         psp.get("num_groups")),
            "profile_num_users_per_system_prompt": psp.get("num_users_per_system_prompt",
                                                           psp.get("num_prompts_per_group")),
            "profile_enable_multi_turn_chat": psp.get("enable_multi_turn_chat"),
            "shared_prefix_tokens": sp.get("system_prompt_len"),
            "unique_prompt_tokens_mean": sp.get("question_len"),
            "output_tokens_spec": out_spec,
            "num_workers": load.get("num_workers"),
            "worker_max_concurrency": load.get("worker_max_concurrency"),
            "num_requests": ls.get("count"), "completed": su.get("count"),
            "failed": fa.get("count"), "achieved_rate": fmt(ls.get("achieved_rate")),
            "send_duration_s": fmt(ls.get("send_duration")),
            "schedule_delay_mean_ms": fmt(dist(sd, "mean"), 1000.0),
            "schedule_delay_p99_ms": fmt(dist(sd, "p99"), 1000.0),
            "prompt_tokens_mean": fmt(pl.get("mean")), "prompt_tokens_min": fmt(pl.get("min")),
            "prompt_tokens_max": fmt(pl.get("max")),
            "output_tokens_mean": fmt(ol.get("mean")), "output_tokens_min": fmt(ol.get("min")),
            "output_tokens_p50": fmt(ol.get("median")), "output_tokens_max": fmt(ol.get("max")),
            "ttft_mean_ms": fmt(dist(ttft, "mean"), 1000.0),
            "ttft_p50_ms": fmt(dist(ttft, "median"), 1000.0),
            "ttft_p90_ms": fmt(dist(ttft, "p90"), 1000.0),
            "ttft_p99_ms": fmt(dist(ttft, "p99"), 1000.0),
            "itl_mean_ms": fmt(dist(itl, "mean"), 1000.0),
            "itl_p50_ms": fmt(dist(itl, "median"), 1000.0),
            "itl_p90_ms": fmt(dist(itl, "p90"), 1000.0),
            "itl_p99_ms": fmt(dist(itl, "p99"), 1000.0),
            "tpot_mean_ms": fmt(dist(tpot, "mean"), 1000.0),
            "tpot_p50_ms": fmt(dist(tpot, "median"), 1000.0),
            "tpot_p99_ms": fmt(dist(tpot, "p99"), 1000.0),
            "ntpot_mean_ms": fmt(dist(ntpot, "mean"), 1000.0),
            "e2e_mean_ms": fmt(dist(e2e, "mean"), 1000.0),
            "e2e_p50_ms": fmt(dist(e2e, "median"), 1000.0),
            "e2e_p90_ms": fmt(dist(e2e, "p90"), 1000.0),
            "e2e_p99_ms": fmt(dist(e2e, "p99"), 1000.0),
            "e2e_max_ms": fmt(dist(e2e, "max"), 1000.0),
            "failed_latency_mean_ms": fmt(dist(fa.get("request_latency"), "mean"), 1000.0),
            "throughput_req_s": fmt(thr.get("requests_per_sec")),
            "input_tokens_s": fmt(thr.get("input_tokens_per_sec")),
            "output_tokens_s": fmt(thr.get("output_tokens_per_sec")),
            "total_tokens_s": fmt(thr.get("total_tokens_per_sec")),
            "derived_decode_ms_per_token": derived,
        }
        out.append({k: fmt(v) if not isinstance(v, str) else v for k, v in r.items()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="bare git dir or extracted folder of inference-sim/training")
    ap.add_argument("-o", "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "data", "runs.csv"))
    ap.add_argument("--commit", default="HEAD", help="revision to read in git mode")
    args = ap.parse_args()

    src = Source(args.source, args.commit)
    excluded = excluded_overload(src)
    rows = []
    for run in src.listdir("default_args"):
        if src.read("default_args/%s/exp-config.yaml" % run) is None:
            continue
        rows.extend(rows_for_run(src, run, excluded))
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print("wrote %d rows from %d runs (commit %s) to %s" % (
        len(rows), len({r["run_id"] for r in rows}), src.commit or "?", args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
