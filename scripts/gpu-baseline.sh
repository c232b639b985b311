#!/usr/bin/env bash
# A baseline run on a borrowed GPU machine, bounded in time, in one call:
#   bash scripts/gpu-baseline.sh OUT_DIR NAME [LIMIT_S] [run flags...]
# e.g. bash scripts/gpu-baseline.sh "$OUT" nvidia-h200 480
# `mla-bench info`, then the default run (every built-in suite; on a GPU the standard profile's headline cases,
# then as much of the rest as fits) within a budget of LIMIT_S seconds (default 480) less 30 s for the report,
# then its report. The run ends itself at its budget; a timeout 60 s past it is the backstop. A run cut short
# that way keeps every finished case in its journal
# (finish it with `mla-bench run --resume --journal OUT_DIR/NAME.json.journal.jsonl`) and the report covers those
# cases. OUT_DIR ends up with at most eight files: info.json, limits.json (the device as a limits file for
# `list --limits`, where nvidia-smi gives its memory), NAME.json or NAME.json.journal.jsonl, run.log, report.md,
# charts.tar (the PNGs) and status.txt. Needs node and a built tree (dist/, node_modules/).
set -uo pipefail
out=${1:?usage: gpu-baseline.sh OUT_DIR NAME [LIMIT_S] [run flags...]}
name=${2:?usage: gpu-baseline.sh OUT_DIR NAME [LIMIT_S] [run flags...]}
limit=${3:-480}
shift $(($# < 3 ? $# : 3))
root=$(cd "$(dirname "$0")/.." && pwd)
cli=("node" "$root/bin/run.js")
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
mkdir -p "$out"
started=$(date +%s)
status() { echo "$*" | tee -a "$out/status.txt"; }

if ! "${cli[@]}" info --json > "$out/info.json" 2>> "$out/run.log"; then
  status "info failed: no WebGPU adapter (see run.log)"
  exit 1
fi
if grep -q '"isFallbackAdapter": true\|llvmpipe\|SwiftShader' "$out/info.json"; then
  status "info: the adapter is a software one, not the GPU (see info.json); running anyway"
fi

# WebGPU does not report device memory: nvidia-smi's first GPU does, where there is one.
memory_mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2> /dev/null | head -n 1 | tr -dc 0-9)
if [ -n "$memory_mib" ]; then
  if "${cli[@]}" info --limits-out "$out/limits.json" --memory-gib "$(awk "BEGIN { print $memory_mib / 1024 }")" >> "$out/run.log" 2>&1; then
    status "limits: limits.json ($memory_mib MiB of device memory)"
  else
    status "limits: info --limits-out failed (see run.log)"
  fi
fi

budget=$((limit > 90 ? limit - 30 : 60))
# The run ends itself within its budget; SIGTERM past it is the backstop (the journal keeps what finished).
timeout -s TERM "$((budget + 60))" "${cli[@]}" run --budget "${budget}s" -o "$out/$name.json" "$@" >> "$out/run.log" 2>&1
rc=$?
journal="$out/$name.json.journal.jsonl"
if [ "$rc" -eq 0 ]; then
  status "run: complete in $(($(date +%s) - started)) s"
  results="$out/$name.json"
elif [ -f "$journal" ]; then
  status "run: cut short (exit $rc) after $(($(date +%s) - started)) s; $(($(wc -l < "$journal") - 1)) case(s) in the journal"
  results="$journal"
else
  status "run: failed (exit $rc) before any case finished (see run.log)"
  exit 1
fi

# The report reads the journal of a cut-short run as well as a finished results file.
charts=$(mktemp -d)
if "${cli[@]}" report "$results" --out "$charts" --format md --format png >> "$out/run.log" 2>&1; then
  cp "$charts/report.md" "$out/report.md"
  tar -cf "$out/charts.tar" -C "$charts" charts
  status "report: report.md and $(find "$charts/charts" -name '*.png' | wc -l) chart(s) in charts.tar"
else
  status "report: failed (see run.log)"
fi
rm -rf "$charts"
