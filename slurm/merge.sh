#!/usr/bin/env bash
# The last job of a Slurm sweep (submitted by slurm/sweep.sh with
# --dependency=afterany:ARRAY_JOB): reports the state of every shard task,
# merges the shard files into the config's output and writes the report:
#   numlab merge --config CONFIG --shards N --overwrite
#   /usr/bin/python3 scripts/report.py OUTPUT -o <output dir>/<name>_report   (if scripts/report.py exists)
# Usable alone once the shards are done:  sbatch slurm/merge.sh CONFIG N [ARRAY_JOB]
# Exit code: 0; 3 = points missing (a shard failed or ran out of time: submit
# the sweep again, it resumes); 2 = the shard files do not belong together;
# else the report's or numlab's error. NUMLAB_ALLOW_INCOMPLETE=1 merges and
# reports what there is with exit 0; NUMLAB_REPORT=0 skips the report.
#SBATCH --job-name=numlab-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=slurm-numlab-merge-%j.out
set -euo pipefail

usage="usage: sbatch slurm/merge.sh CONFIG N [ARRAY_JOB]"
config="${1:?$usage}"
n="${2:?$usage}"
array_job="${3:-}"

numlab_root() {
  local d
  for d in "${NUMLAB_ROOT:-}" "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd)" "${SLURM_SUBMIT_DIR:-}"; do
    if [ -n "$d" ] && [ -f "$d/slurm/shard.sh" ]; then echo "$d"; return 0; fi
  done
  if [ -n "${SLURM_JOB_ID:-}" ]; then  # a batch script runs from a copy in slurmd's spool
    d="$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -n 1)"
    d="$(cd "$(dirname "$d")/.." 2>/dev/null && pwd)" || true
    if [ -n "$d" ] && [ -f "$d/slurm/shard.sh" ]; then echo "$d"; return 0; fi
  fi
  echo "numlab merge: cannot find the numlab repository; set NUMLAB_ROOT" >&2
  return 1
}
root="$(numlab_root)"
numlab="$root/numlab"

paths="$("$numlab" merge --config "$config" --shards "$n" --dry-run)"
name="$(sed -n 's/^name: //p' <<< "$paths")"
output="$(sed -n 's/^output: //p' <<< "$paths")"
echo "numlab merge of '$name' ($config, $n shards) -> $output, $(date -u +%FT%TZ)"

# Did every task finish? Slurm's own view, while it still holds the records
# (the merge below is the authority: it counts the points).
if [ -n "$array_job" ] && command -v scontrol > /dev/null; then
  states="$(scontrol -o show job "$array_job" 2>/dev/null |
    sed -n 's/.*ArrayTaskId=\([^ ]*\) .*JobState=\([^ ]*\) .*ExitCode=\([^ ]*\) .*/\1 \2 \3/p' | sort -n || true)"
  if [ -n "$states" ]; then
    bad="$(awk '$2 != "COMPLETED"' <<< "$states")"
    if [ -z "$bad" ]; then
      echo "all $n shard tasks of job $array_job COMPLETED"
    else
      echo "warning: shard tasks of job $array_job that did not complete (task state exit):"
      sed 's/^/  /' <<< "$bad"
    fi
  fi
fi

rc=0
if [ "$n" -gt 1 ]; then
  merge_args=(merge --config "$config" --shards "$n" --overwrite)
  [ "${NUMLAB_ALLOW_INCOMPLETE:-0}" = 1 ] && merge_args+=(--allow-incomplete)
  echo "+ numlab ${merge_args[*]}"
  "$numlab" "${merge_args[@]}" || rc=$?
else
  echo "one shard: it wrote $output itself, nothing to merge"
  [ -f "$output" ] || rc=3
fi
if [ "$rc" -eq 3 ]; then
  echo "incomplete: submit the sweep again (sbatch slurm/sweep.sh $config $n): the shards resume and the merge runs again" >&2
  exit 3
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
fi

report="$root/scripts/report.py"
if [ "${NUMLAB_REPORT:-1}" != 0 ] && [ -f "$report" ]; then
  report_dir="$(dirname "$output")/${name}_report"
  echo "+ python3 scripts/report.py $output -o $report_dir"
  "${NUMLAB_PYTHON:-/usr/bin/python3}" "$report" "$output" -o "$report_dir"
fi
echo "done: $output"
