#!/usr/bin/env bash
# `npm run bench`: every benchmark, each printing its numbers and its ratio against a baseline measured in the
# same run. Results are recorded by hand, with machine and date, in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(node --import tsx -e "process.stdout.write(require('./lib/paths').pythonBin())")
echo "=== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%F) ==="
echo "=== ingest: FER2013-sized CSV vs pandas/numpy routes to the same arrays ==="
node --import tsx bench/ingest-csv.ts 3
echo "=== canary: 1,000 simulated rollouts per scenario, decisions before vs after #21 ===" && node --import tsx bench/canary-sim.ts 1000
echo "=== inference: stage breakdown and detection against hand labels, detection settings vs slow settings ==="
node --import tsx bench/inference-stages.ts
echo "=== inference: faces found and aligned on the test photos turned -30..30 degrees, by 5 and by every degree ==="
node --import tsx bench/photo-sweep.ts 5
node --import tsx bench/photo-sweep.ts 1
echo "=== inference: the small-face search's photo latency and throughput, off / after the detector / beside it ==="
node --import tsx bench/small-face-search.ts 4 3
echo "=== inference: HTTP vs the bare node:http server and raw onnxruntime at the service's batch sizes ==="
node --import tsx bench/inference-http.ts 3 3 demo
node --import tsx bench/inference-http.ts 5 3 vit-s16 crops
node --import tsx bench/inference-http.ts 10 3 vit-b16 crops
echo "=== inference: where a crop request's time goes at concurrency 1, the service beside the bare server (profiled) ==="
node --import tsx bench/inference-profile.ts 1 4 3 40
echo "=== inference: model size ladder, demo / ViT-S/16 / ViT-B/16 crops, fp32 vs int8 (plot: docs/images/model-ladder.png) ===" && node --import tsx bench/model-ladder.ts
echo "=== inference: ferops vs mlflow models serve and BentoML, same model and image bytes (peer venv built on first run) ==="
node --import tsx bench/inference-peers.ts 5 20 3
echo "=== inference: sustained crop load, node defaults vs the service's node flags ==="
node --import tsx bench/inference-soak.ts
echo "=== inference: photo throughput, 1 vs 3 replicas behind HAProxy, and 1 replica direct ==="
node --import tsx bench/inference-fleet.ts
echo "=== trainer step: plain fp32 HF loop vs ours (tiny model on CPU; ViT-B/16 on a GPU) ==="
(cd training-py && "$py" ../bench/gpu_train_throughput.py)
