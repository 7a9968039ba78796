#!/usr/bin/env bash
# One shard of a numlab sweep as a Slurm array task: task i of an array of N runs
#   numlab CONFIG --shard i/N --resume [--retry-failed] --wait-lock 300 $NUMLAB_ARGS
# and writes <output stem>.shard<i>of<N>.h5. Submitted by slurm/sweep.sh (see
# there for the environment it reads); usable alone:
#   sbatch --array=0-3 slurm/shard.sh CONFIG 4
# --resume: a task that runs again (re-queued after a node failure or
# preemption, `scontrol requeue`, or a new submission of the sweep) continues
# its shard file. When Slurm re-queued it (SLURM_RESTART_COUNT > 0), or with
# NUMLAB_RETRY_FAILED=1, the points recorded as failed run again too.
# Exit code: numlab's (0; 3 = some points failed, recorded; 130 = stopped by a
# signal, e.g. the time limit, finished points kept).
#SBATCH --job-name=numlab-shard
#SBATCH --requeue
#SBATCH --ntasks=1
#SBATCH --output=slurm-numlab-%A_%a.out
set -euo pipefail

usage="usage: sbatch --array=0-(N-1) slurm/shard.sh CONFIG N"
config="${1:?$usage}"
n="${2:-${SLURM_ARRAY_TASK_COUNT:-}}"
i="${SLURM_ARRAY_TASK_ID:-}"
if [ -z "$n" ] || [ -z "$i" ]; then echo "$usage (not an array task?)" >&2; exit 2; fi

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
  echo "numlab shard: cannot find the numlab repository; set NUMLAB_ROOT" >&2
  return 1
}
root="$(numlab_root)"

# Host threads: the CPUs Slurm gave this task, bound to them.
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}"
export OMP_PROC_BIND="${OMP_PROC_BIND:-spread}" OMP_PLACES="${OMP_PLACES:-threads}"

args=("$config" --shard "$i/$n" --resume)
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || [ "${NUMLAB_RETRY_FAILED:-0}" = 1 ]; then args+=(--retry-failed); fi
# A re-queued task whose predecessor is still being torn down waits for the output's lock
# (released when that process ends) instead of failing.
args+=(--wait-lock "${NUMLAB_WAIT_LOCK:-300}")
# shellcheck disable=SC2206  # split on purpose
args+=(${NUMLAB_ARGS:-})

echo "numlab shard $i/$n of $config: job ${SLURM_ARRAY_JOB_ID:-?}_${i} on $(hostname)," \
  "restart ${SLURM_RESTART_COUNT:-0}, OMP_NUM_THREADS=$OMP_NUM_THREADS," \
  "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}, $(date -u +%FT%TZ)"
echo "+ numlab ${args[*]}"
exec "$root/numlab" "${args[@]}"
