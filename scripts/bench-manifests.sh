#!/usr/bin/env bash
# Manifest requests per second: Headwater building each live manifest on request against nginx
# serving a static copy of the very same bytes, measured with wrk in one run, alternating the
# servers, R rounds per manifest.
#
# A two-rendition channel (the committed 320x240 and 160x120 fixtures pushed in real time by two
# ffmpeg processes, 2 s segments, a W-second window) is live in Headwater with an HLS-TS, an
# HLS-fMP4, a DASH and a Smooth package. Once the window is full, each manifest is fetched from
# Headwater and written under nginx's root at the same path; then wrk asks each server for each
# manifest in turn. The pushes keep running throughout, so Headwater's manifests stay live (they
# change every 2 s) while nginx's copies are frozen; both servers run beside the same ffmpeg load.
#
# nginx gets its best static setup: sendfile, open_file_cache, keep-alive without a request
# limit, access log off, one worker per core. Headwater runs its release build with defaults.
#
# Usage: scripts/bench-manifests.sh [R] [SECONDS]     (defaults: R=3 rounds, 10 s per wrk run)
# Env:   HEADWATER_BIN=target/release/headwater (skips the build when set)
#        WRK_THREADS=2 WRK_CONNECTIONS=50 WINDOW=30 (seconds of playlist window)
#        HW_RTMP_PORT=19360 HW_HTTP_PORT=18090 NGX_HTTP_PORT=18091  KEEP_TMP=1
# Needs: wrk, nginx, ffmpeg, curl, python3 (Debian: apt-get install -y wrk nginx ffmpeg curl python3).
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

R=${1:-3}
SECS=${2:-10}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-50}
WINDOW=${WINDOW:-30}
HW_RTMP_PORT=${HW_RTMP_PORT:-19360}
HW_HTTP_PORT=${HW_HTTP_PORT:-18090}
NGX_HTTP_PORT=${NGX_HTTP_PORT:-18091}

REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/bench-manifests.XXXXXX)
PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n ${KEEP_TMP:-} ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk nginx ffmpeg curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk nginx ffmpeg curl python3)" >&2; exit 2; }
done
[[ $R =~ ^[0-9]+$ && $R -ge 1 && $R -le 20 ]] || { echo "R must be 1..20" >&2; exit 2; }
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 2 && $SECS -le 120 ]] || { echo "SECONDS must be 2..120" >&2; exit 2; }

wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
REV="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO" && git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')"
if [[ -z ${HEADWATER_BIN:-} ]]; then
    log "cargo build --release -p server --bin headwater"
    (cd "$REPO" && cargo build --release -p server --bin headwater) >&2
    HEADWATER_BIN=$REPO/target/release/headwater
fi
cp "$HEADWATER_BIN" "$TMP/headwater"

# --- Headwater with one live two-rendition channel -------------------------------------------
SEG="\"segment_duration_seconds\": 2, \"playlist_window_seconds\": $WINDOW"
cat >"$TMP/channels.json" <<EOF
[{
  "domain": "localhost", "app_name": "live", "id": "m", "state": "ON",
  "input": { "input_protocol": "RTMP_PUSH", "sources": [
    { "bitrate": 400000, "width": 320, "height": 240 },
    { "bitrate": 200000, "width": 160, "height": 120 } ] },
  "record_settings": { "rollingbuffer_duration": 0 },
  "endpoints": [{
    "hls_package": [
      { "url": "localhost/live/m/index.m3u8", "hls_version": "3", $SEG },
      { "url": "localhost/live/m/cmaf.m3u8", "hls_version": "7", $SEG } ],
    "dash_package": [{ "url": "localhost/live/m/manifest.mpd", $SEG }],
    "mss_package": [{ "url": "localhost/live/m/Manifest", $SEG }]
  }]
}]
EOF
mkdir -p "$TMP/data"
"$TMP/headwater" serve --rtmp-listen "127.0.0.1:$HW_RTMP_PORT" --http-listen "127.0.0.1:$HW_HTTP_PORT" \
    --data-dir "$TMP/data" --channels "$TMP/channels.json" >"$TMP/headwater.log" 2>&1 &
HW_PID=$!
PIDS+=($HW_PID)
wait_port "$HW_HTTP_PORT" 20 && wait_port "$HW_RTMP_PORT" 5 || { tail "$TMP/headwater.log" >&2; exit 1; }
for pair in "400000 ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv" \
    "200000 ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv"; do
    read -r bitrate file <<<"$pair"
    ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$REPO/fixtures/$file" \
        -c copy -f flv "rtmp://127.0.0.1:$HW_RTMP_PORT/live/m_$bitrate" >"$TMP/ffmpeg.$bitrate.log" 2>&1 &
    PIDS+=($!)
done
want=$((WINDOW / 2 - 2))
log "pushing; waiting until the window holds $want segments"
for ((i = 0; i < WINDOW + 30; i++)); do
    n=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT/live/m/index/400000/playlist.m3u8" | grep -c '^#EXTINF' || true)
    [[ ${n:-0} -ge $want ]] && break
    sleep 1
done
[[ ${n:-0} -ge $want ]] || { echo "the window never filled (${n:-0} segments)" >&2; exit 1; }

# --- The manifests, and their static copies under nginx's root -------------------------------
PATHS=(
    "/live/m/index.m3u8"                  # HLS multivariant
    "/live/m/index/400000/playlist.m3u8"  # HLS-TS media playlist
    "/live/m/cmaf/400000/playlist.m3u8"   # HLS-fMP4 video playlist
    "/live/m/manifest.mpd"                # DASH MPD
    "/live/m/Manifest"                    # Smooth manifest
)
mkdir -p "$TMP/www" "$TMP/nginx/logs" "$TMP/nginx/tmp"
for p in "${PATHS[@]}"; do
    mkdir -p "$TMP/www$(dirname "$p")"
    curl -sf -o "$TMP/www$p" "http://127.0.0.1:$HW_HTTP_PORT$p" || { echo "cannot fetch $p from Headwater" >&2; exit 1; }
done
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=64 inactive=60s;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    types { application/vnd.apple.mpegurl m3u8; application/dash+xml mpd; }
    default_type application/vnd.ms-sstr+xml;
    server {
        listen 127.0.0.1:$NGX_HTTP_PORT;
        root $TMP/www;
        add_header Cache-Control max-age=1;
    }
}
EOF
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -g 'daemon off;' >"$TMP/nginx/logs/stdout.log" 2>&1 &
PIDS+=($!)
wait_port "$NGX_HTTP_PORT" 20 || { cat "$TMP/nginx/logs/"* >&2; exit 1; }
for p in "${PATHS[@]}"; do
    a=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT$p" | wc -c)
    b=$(curl -sf "http://127.0.0.1:$NGX_HTTP_PORT$p" | wc -c)
    log "$p: Headwater $a bytes now, nginx copy $b bytes"
done

# --- wrk, alternating servers ----------------------------------------------------------------
# Prints requests/s, or fails loudly when wrk saw errors or non-2xx answers.
run_wrk() { # url
    local out
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${SECS}s" --latency "$1")
    if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
        echo "wrk saw errors for $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
: >"$TMP/results"
for ((round = 1; round <= R; round++)); do
    for p in "${PATHS[@]}"; do
        if ((round % 2)); then order="headwater nginx"; else order="nginx headwater"; fi
        for server in $order; do
            port=$HW_HTTP_PORT
            [[ $server == nginx ]] && port=$NGX_HTTP_PORT
            rps=$(run_wrk "http://127.0.0.1:$port$p")
            log "round $round $server $p: $rps req/s"
            printf '%s\t%s\t%s\n' "$p" "$server" "$rps" >>"$TMP/results"
        done
    done
done

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $MACHINE"
echo "command: scripts/bench-manifests.sh $R $SECS (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${SECS}s; window ${WINDOW} s of 2 s segments, 2 renditions)"
echo "headwater: $REV; $(nginx -v 2>&1 | sed 's/.*: //') static; $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo
python3 - "$TMP/results" "${PATHS[@]}" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print(f"{'manifest':40} {'Headwater req/s':>16} {'nginx static req/s':>19} {'ratio':>6}   (medians of {len(rows) // (2 * len(sys.argv[2:]))} runs)")
for path in sys.argv[2:]:
    hw = statistics.median(float(r[2]) for r in rows if r[0] == path and r[1] == "headwater")
    ng = statistics.median(float(r[2]) for r in rows if r[0] == path and r[1] == "nginx")
    print(f"{path:40} {hw:16.0f} {ng:19.0f} {hw / ng:6.2f}")
PY
