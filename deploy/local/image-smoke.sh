#!/usr/bin/env bash
# Without a Docker engine: build each image's virtualenv the way the Dockerfile does (the
# allow-listed context, `pip install ".[extras]"`), then run `ragapi serve <service>` from it
# as uid 10001 with a read-only root and a tmpfs /tmp (bubblewrap), and check the probes.
#
#   deploy/local/image-smoke.sh [service...]        (default: tenants ingest ocr query)
#
# Needs: python3.11, bwrap (apt-get install bubblewrap), NATS with JetStream and Redis on
# 127.0.0.1 (RAGAPI_NATS_URL / RAGAPI_REDIS_URL to override), PyPI for the installs.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
work=${SMOKE_DIR:-/tmp/ragapi-image-smoke}
services=("${@:-tenants ingest ocr query}")
read -r -a services <<< "${services[*]}"
declare -A extras=([tenants]="" [ingest]="[rag,postgres,qdrant]" [ocr]="[ocr]" [query]="[rag,postgres,qdrant]")

mkdir -p "$work/ctx"
rm -rf "$work/ctx"/*
cp "$here/pyproject.toml" "$work/ctx/"
cp -r "$here/libs" "$here/services" "$work/ctx/"
find "$work/ctx" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +

port=18100
failed=0
for svc in "${services[@]}"; do
    venv="$work/venv-$svc"
    if [[ ! -x "$venv/bin/ragapi" ]]; then
        python3.11 -m venv "$venv"
        (cd "$work/ctx" && "$venv/bin/pip" install -q --no-cache-dir ".${extras[$svc]}")
    fi
    echo "== $svc: virtualenv $(du -sh "$venv" | cut -f1)"
    port=$((port + 1))
    bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --ro-bind "$work" "$work" \
        --unshare-user --uid 10001 --gid 10001 --unshare-pid --die-with-parent --chdir /tmp \
        --clearenv --setenv PATH "$venv/bin:/usr/bin:/bin" --setenv HOME /tmp \
        --setenv RAGAPI_STORAGE_PROFILE postgres --setenv RAGAPI_DATA_DIR /tmp/ragapi \
        --setenv RAGAPI_NATS_URL "${RAGAPI_NATS_URL:-nats://127.0.0.1:4222}" \
        --setenv RAGAPI_REDIS_URL "${RAGAPI_REDIS_URL:-redis://127.0.0.1:6379/15}" \
        --setenv RAGAPI_POSTGRES_DSN "${RAGAPI_POSTGRES_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}" \
        --setenv RAGAPI_ADMIN_TOKEN smoke --setenv RAGAPI_SECRET_KEY smoke \
        --setenv RAGAPI_SERVICE_NAME "$svc" --setenv RAGAPI_OCR_PROCESSES 2 \
        "$venv/bin/ragapi" serve "$svc" --host 127.0.0.1 --port "$port" \
        > "$work/$svc.log" 2>&1 &
    pid=$!
    status=000
    for _ in $(seq 1 120); do
        status=$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz" || true)
        [[ $status == 200 ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    metrics=$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/metrics" || true)
    rss=$(ps -eo rss,args | awk -v bin="$venv/bin/ragapi" '$0 ~ bin && !/bwrap/ {s += $1} END {print int(s / 1024)}')
    echo "   /readyz $status, /metrics $metrics, resident ${rss} MB"
    [[ $status == 200 && $metrics == 200 ]] || { failed=1; tail -5 "$work/$svc.log"; }
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
exit $failed
