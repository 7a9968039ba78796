#!/usr/bin/env bash
# A numlab sweep on a Slurm cluster: a job array runs the shards, a dependent
# job merges them into the config's output and writes the report.
#
#   sbatch slurm/sweep.sh CONFIG [SHARDS]    # from the repository; SHARDS defaults to 4
#   slurm/sweep.sh CONFIG [SHARDS]           # the same, straight from a login node
#
# This job only submits (it ends within seconds) and prints the job ids:
#   1. slurm/shard.sh as --array=0-(SHARDS-1) --requeue: task i runs
#        numlab CONFIG --shard i/SHARDS --resume   (+ --retry-failed when re-queued)
#      writing <output stem>.shard<i>of<SHARDS>.h5 beside the config's output,
#      one GPU per task (--gres=gpu:1), OMP_NUM_THREADS = --cpus-per-task.
#   2. slurm/merge.sh with --dependency=afterany:<array>: reports the state of
#      every task, then
#        numlab merge --config CONFIG --shards SHARDS --overwrite   (-> the config's output)
#      and, if scripts/report.py exists,
#        /usr/bin/python3 scripts/report.py OUTPUT -o <output dir>/<name>_report
#      It exits 3 if points are missing (a task failed or ran out of time).
# Nothing is ever started over: a re-queued task (node failure, preemption,
# `scontrol requeue`) resumes from its shard file, and submitting the same
# sweep again runs only the points no shard file holds yet, then merges again.
# The shard files are kept; the merged output is rebuilt from them each time.
#
# Environment (default in brackets):
#   NUMLAB_SLURM_GRES [gpu:1]   --gres of each shard task; '' requests none (CPU runs)
#   NUMLAB_SLURM_CPUS [4]       --cpus-per-task of each shard task
#   NUMLAB_SLURM_TIME, NUMLAB_SLURM_MEM          --time, --mem of each shard task [partition defaults]
#   NUMLAB_SLURM_PARTITION, NUMLAB_SLURM_ACCOUNT [those of this job when run by sbatch]
#   NUMLAB_SLURM_ARGS           more sbatch options for every job, split on spaces ('--qos=x --constraint=a100')
#   NUMLAB_SLURM_LOGDIR [.]     where the jobs' slurm-numlab-*.out logs go
#   NUMLAB_ARGS                 more numlab options for every shard, e.g. --kokkos-num-threads=8
#   NUMLAB_RETRY_FAILED=1       the shards also run again the points recorded as failed
#   NUMLAB_ALLOW_INCOMPLETE=1   merge exits 0 (and writes the report) even with points missing
#   NUMLAB_REPORT=0             no report
#   NUMLAB_BIN [build/numlab]   the numlab binary (see ./numlab); NUMLAB_PYTHON [/usr/bin/python3]
# Relative paths (CONFIG, the config's output) are relative to the directory
# sbatch was called from; every job runs there. GPUs: Slurm sets
# CUDA_VISIBLE_DEVICES to the task's GPU and Kokkos takes the first visible one.
#SBATCH --job-name=numlab-submit
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=slurm-numlab-submit-%j.out
set -euo pipefail

usage="usage: sbatch slurm/sweep.sh CONFIG [SHARDS]"

# The repository: a batch script runs from a copy in slurmd's spool, so look
# beside this file, then in the submit directory, then ask Slurm for the path.
numlab_root() {
  local d
  for d in "${NUMLAB_ROOT:-}" "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd)" "${SLURM_SUBMIT_DIR:-}"; do
    if [ -n "$d" ] && [ -f "$d/slurm/shard.sh" ]; then echo "$d"; return 0; fi
  done
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    d="$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -n 1)"
    d="$(cd "$(dirname "$d")/.." 2>/dev/null && pwd)" || true
    if [ -n "$d" ] && [ -f "$d/slurm/shard.sh" ]; then echo "$d"; return 0; fi
  fi
  echo "numlab sweep: cannot find the numlab repository; set NUMLAB_ROOT" >&2
  return 1
}
root="$(numlab_root)"
export NUMLAB_ROOT="$root"

# Started as an array task (the old usage `sbatch --array=0-3 slurm/sweep.sh CONFIG`): run that shard.
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  exec bash "$root/slurm/shard.sh" "${1:?$usage}" "${2:-${SLURM_ARRAY_TASK_COUNT:-1}}"
fi

config="${1:?$usage}"
shards="${2:-4}"
[ $# -le 2 ] || { echo "$usage" >&2; exit 2; }
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "numlab sweep: SHARDS must be a positive integer, not '$shards'" >&2; exit 2; }
workdir="${SLURM_SUBMIT_DIR:-$PWD}"
cd "$workdir"
[ -f "$config" ] || { echo "numlab sweep: no config '$config' (relative to $workdir)" >&2; exit 2; }
numlab="$root/numlab"

# Fail here, not in N tasks: the config must be valid.
dry="$("$numlab" "$config" --dry-run)"
points="$(sed -n '1s/.*kind [^,]*, \([0-9]*\) points.*/\1/p' <<< "$dry")"
paths="$("$numlab" merge --config "$config" --shards "$shards" --dry-run)"
name="$(sed -n 's/^name: //p' <<< "$paths")"
output="$(sed -n 's/^output: //p' <<< "$paths")"

# Options of every job. Variables of this (submitting) job must not leak into them.
unset SLURM_CPUS_PER_TASK SLURM_MEM_PER_CPU SLURM_MEM_PER_NODE SLURM_MEM_PER_GPU SLURM_TRES_PER_TASK \
  SLURM_NTASKS SLURM_NPROCS SBATCH_DEPENDENCY SLURM_DEPENDENCY
common=(--parsable --chdir="$workdir" --export=ALL)
partition="${NUMLAB_SLURM_PARTITION:-${SLURM_JOB_PARTITION:-}}"
account="${NUMLAB_SLURM_ACCOUNT:-${SLURM_JOB_ACCOUNT:-}}"
[ -n "$partition" ] && common+=(--partition="$partition")
[ -n "$account" ] && common+=(--account="$account")
logdir="${NUMLAB_SLURM_LOGDIR:-$workdir}"
mkdir -p "$logdir"
# shellcheck disable=SC2206  # split on purpose
extra_sbatch=(${NUMLAB_SLURM_ARGS:-})

shard_opts=(--job-name="numlab-$name" --array="0-$((shards - 1))" --requeue --open-mode=append --ntasks=1
  --cpus-per-task="${NUMLAB_SLURM_CPUS:-4}" --output="$logdir/slurm-numlab-%A_%a.out")
gres="${NUMLAB_SLURM_GRES-gpu:1}"
[ -n "$gres" ] && shard_opts+=(--gres="$gres")
[ -n "${NUMLAB_SLURM_TIME:-}" ] && shard_opts+=(--time="$NUMLAB_SLURM_TIME")
[ -n "${NUMLAB_SLURM_MEM:-}" ] && shard_opts+=(--mem="$NUMLAB_SLURM_MEM")

array_job="$(sbatch "${common[@]}" "${shard_opts[@]}" "${extra_sbatch[@]}" "$root/slurm/shard.sh" "$config" "$shards")"
array_job="${array_job%%;*}"
merge_job="$(sbatch "${common[@]}" --job-name="numlab-$name-merge" --dependency="afterany:$array_job" \
  --ntasks=1 --cpus-per-task=1 --output="$logdir/slurm-numlab-merge-%j.out" "${extra_sbatch[@]}" \
  "$root/slurm/merge.sh" "$config" "$shards" "$array_job")"
merge_job="${merge_job%%;*}"

echo "numlab sweep '$name' ($config): ${points:-?} points in $shards shards"
echo "  shards: job array $array_job (tasks 0-$((shards - 1)), gres '${gres}', logs $logdir/slurm-numlab-${array_job}_<task>.out)"
echo "  merge:  job $merge_job after the array -> $output (log $logdir/slurm-numlab-merge-$merge_job.out)"
echo "submitted_array_job=$array_job"
echo "submitted_merge_job=$merge_job"
