#!/usr/bin/env bash
# The GPU measurements of issue 20 in one go (under 10 minutes on one GPU), for a session that is
# lent one. Run from the repository root:  bash benchmarks/gpu_check.sh
#   1. the Trainer's samples/s on ResNet-20 with CIFAR-shaped data, plain path vs fast path
#      (on-device data, channels_last, bf16), then the fast path with torch.compile;
#   2. a DDP smoke run over NCCL, one process per GPU (up to 2; one process on a 1-GPU machine);
#   3. airbench (time to 94%) when CIFAR-10 is found: $CIFAR10, shared/data/cifar10-jpeg,
#      ../shared/data/cifar10-jpeg (../../ from a worktree) or runs/cifar10-jpeg. The device tool
#      copies only the working tree: copy the JPEG folder (46 MB) to runs/cifar10-jpeg (git
#      ignores runs/) and name it in the tool's carry list.
# Everything printed is also written to $OUT/gpu_check.txt when $OUT is set (the device tool).
# A dry run of the plumbing on a CPU: DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
if [ -n "${QUICK:-}" ]; then SIZE="--steps 4 --warmup 1 --examples 256 --batch-size 64"; AIR="--smoke"
else SIZE="--steps 80 --batch-size 512"; AIR="--runs 3"; fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
LOG=${OUT:-/tmp}/gpu_check.txt
exec > >(tee "$LOG") 2>&1

echo "== $(date -u '+%Y-%m-%d %H:%M UTC')  $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"

echo "== 1. Trainer throughput, ResNet-20, batch 512"
timeout 150 $PY benchmarks/gpu_throughput.py --device "$DEVICE" $SIZE
if [ "$DEVICE" != cpu ]; then
    echo "== 1b. the fast path with torch.compile"
    timeout 200 $PY benchmarks/gpu_throughput.py --device "$DEVICE" $SIZE --compile
fi

NGPU=$($PY -c "import torch; print(max(1, min(2, torch.cuda.device_count())))")
[ "$DEVICE" = cpu ] && NGPU=2
echo "== 2. DDP smoke: $NGPU process(es) on $DEVICE (NCCL, one GPU each; gloo on the CPU)"
RUNS=$(mktemp -d)
timeout 120 $PY -m nnatlas train lenet5 --data digits --epochs 2 --batch-size 32 --nproc "$NGPU" \
    --device "$DEVICE" --quiet --runs-dir "$RUNS" --run-name ddp 2>&1 | grep -E "batch|test accuracy|Error|error" || true

CIFAR=""
for dir in "${CIFAR10:-}" shared/data/cifar10-jpeg ../shared/data/cifar10-jpeg \
           ../../shared/data/cifar10-jpeg runs/cifar10-jpeg; do
    if [ -n "$dir" ] && [ -d "$dir" ]; then CIFAR=$dir; break; fi
done
if [ -n "$CIFAR" ]; then
    echo "== 3. airbench on $CIFAR (3 timed runs, bf16)"
    timeout 240 $PY benchmarks/airbench.py --data-root "$CIFAR" --device "$DEVICE" $AIR
else
    echo "== 3. airbench skipped: no CIFAR-10 found (set CIFAR10=PATH)"
fi
echo "== done $(date -u '+%H:%M:%S UTC')"
