#!/usr/bin/env bash
# The lab's GPU check (issue 14), one script, about 8 minutes on one GPU:
#   bash benchmarks/gpu_check.sh [RESULTS_DIR]      # default: $OUT, else outputs/gpu_check
# from the repository root. It writes one text file per step into RESULTS_DIR, plus summary.txt
# (each step's exit status and seconds):
#   gpu_tests.txt     pytest -m gpu: each model trains an epoch on the GPU, evaluate, resume,
#                     the data on the device with no host sync per step (tests/test_gpu.py)
#   e19_timing.txt    E19: dense and CNN seconds per training epoch, GPU vs CPU
#                     (benchmarks/epoch_speed.py; lab, plain loop and per-sample DataLoader)
#   cnn_fast_tta.txt  cnn_fast's training seconds to 98 / 99 / 99.5% test accuracy on the GPU
#   cnn_gpu.txt       experiment=cnn_gpu (>= 99% in <= 1 s of training?) over seeds 1-3, in
#                     bf16-mixed (auto) and fp32: test accuracy and training seconds per run
# Needs: a CUDA build of torch with lightning, torchmetrics, tensorboard, matplotlib, scipy and
# rich (the device machine's image has them), and hydra-core, omegaconf and
# antlr4-python3-runtime, which that image lacks and cannot download: put their wheels in
# ./.whl (see the README's GPU section) and this installs them. The MNIST files: point
# MNIST_LAB_DATA_DIR at a folder with MNIST/raw/ (carry it; ../shared/data does not travel).
set -uo pipefail

results=${1:-${OUT:-outputs/gpu_check}}
mkdir -p "$results"
results=$(cd "$results" && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
export MPLBACKEND=Agg PYTHONUNBUFFERED=1 MNIST_LAB_LOG_DIR="$work/outputs"
summary="$results/summary.txt"
: >"$summary"

say() { echo "$*" | tee -a "$summary"; }

if ! "$python" -c "import hydra, omegaconf" 2>/dev/null; then
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$python" -m pip install -q --no-index --no-deps --no-compile --target "$work/site" .whl/*.whl ||
            { say "error: installing .whl/*.whl failed"; exit 2; }
        export PYTHONPATH="$work/site"
    else
        say "error: hydra-core and omegaconf are not installed and there is no .whl/ to install from"
        exit 2
    fi
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    say "error: torch sees no CUDA GPU here; this check needs one"
    exit 2
fi
if [ ! -d "${MNIST_LAB_DATA_DIR:-data}/MNIST/raw" ]; then
    say "error: no MNIST/raw/ in ${MNIST_LAB_DATA_DIR:-data}; set MNIST_LAB_DATA_DIR"
    exit 2
fi
say "gpu check $(date -u +%FT%TZ): $("$python" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())')"

# step NAME LIMIT_SECONDS COMMAND...: runs COMMAND into NAME.txt, at most LIMIT_SECONDS
step() {
    local name=$1 limit=$2 started=$SECONDS
    shift 2
    timeout "$limit" "$@" >"$results/$name.txt" 2>&1
    local status=$?
    say "$name: exit $status in $((SECONDS - started)) s"
}

step gpu_tests 150 "$python" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py
step e19_timing 120 bash -c "
    $python benchmarks/epoch_speed.py --device gpu --cases mlp128,cnn128 --repeats 3 \
        --output-dir $work/e19 &&
    $python benchmarks/epoch_speed.py --device cpu --cases mlp128,cnn128 --repeats 1 \
        --skip-dataloader --output-dir $work/e19"
step cnn_fast_tta 90 "$python" benchmarks/epoch_speed.py --mode time-to-accuracy \
    --recipe cnn_fast --device gpu --repeats 3 --output-dir "$work/tta"

cnn_gpu_runs() {
    for precision in auto 32; do
        for seed in 1 2 3; do
            local run="$work/cnn_gpu_${precision}_$seed"
            "$python" -m mnist_lab.train experiment=cnn_gpu seed="$seed" \
                trainer.precision="$precision" hydra.run.dir="$run" >"$run.log" 2>&1 ||
                { tail -n 20 "$run.log"; continue; }
            "$python" -c "
import json, sys
m = json.load(open(sys.argv[1]))
print(f\"precision {sys.argv[2]:>4} seed {sys.argv[3]}: test acc {m['test/acc']:.4f}, \"
      f\"training {m['time/epoch_s']:.2f} s (1 epoch), run {m['time/total_s']:.1f} s, \"
      f\"{m['environment']['precision']}\")" "$run/metrics.json" "$precision" "$seed"
        done
    done
}
export python work
export -f cnn_gpu_runs
step cnn_gpu 120 bash -c cnn_gpu_runs
say "done $(date -u +%FT%TZ); results in $results"
