#!/usr/bin/env bash
# Switch time of primary/standby failover over N forced switches, and the output gap each
# switch leaves on the channel timeline.
#
# One RTMP_PUSH channel (input_loss_threshold_msec = T, EQUAL preference, 2 s HLS segments) is
# fed by two real-time ffmpeg encodes of a test pattern (25 fps, 1 s GOP): the primary to
# `{id}_{bitrate}` and the standby to `{id}_{bitrate}_standby`. Each round freezes the active
# encoder with SIGSTOP (its TCP connection stays open; it just stops delivering), waits for the
# switch, lets the output run on the other input for a few seconds, then SIGCONTs the frozen one
# (it catches up and is alive again). With EQUAL preference the next round freezes the other
# side, so the switches alternate primary -> standby -> primary ...
#
# Reported:
#   switch time: Headwater's own measure, logged with every switch (`input switched ...
#     switch_time_ms=`): from the last frame of the old input that reached the output to the
#     first frame of the new input that did. Target: <= T + one frame interval (40 ms).
#   output gap: on the HLS playlist, at each EXT-X-DISCONTINUITY, the start (PROGRAM-DATE-TIME)
#     of the first segment after it minus the end of the segment before it. Negative would mean
#     the output went back; the design bound is T.
#
# Usage: scripts/bench-failover.sh [N] [T_MS]     (defaults: N=20 switches, T=1000 ms)
# Env:   HEADWATER_BIN=target/release/headwater (skips the build when set)
#        HW_RTMP_PORT=19370 HW_HTTP_PORT=18095 HW_API_PORT=18096 HW_SRT_PORT=19371 KEEP_TMP=1
# Needs: ffmpeg, curl, python3.
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

N=${1:-20}
T=${2:-1000}
HW_RTMP_PORT=${HW_RTMP_PORT:-19370}
HW_HTTP_PORT=${HW_HTTP_PORT:-18095}
HW_API_PORT=${HW_API_PORT:-18096}
HW_SRT_PORT=${HW_SRT_PORT:-19371}

REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/bench-failover.XXXXXX)
PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${KEEP_TMP:-} ]] || rm -rf "$TMP"
}
trap cleanup EXIT

for tool in ffmpeg curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
if [[ -z ${HEADWATER_BIN:-} ]]; then
    (cd "$REPO" && cargo build --release --quiet -p server)
    HEADWATER_BIN=$REPO/target/release/headwater
fi

WINDOW=$(( (N + 2) * 12 + 60 ))
cat >"$TMP/channels.json" <<EOF
[{ "domain": "localhost", "app_name": "live", "id": "fo", "state": "ON",
   "input": { "input_protocol": "RTMP_PUSH",
              "sources": [{ "bitrate": 900000, "width": 320, "height": 240 }],
              "failover_conditions": { "input_loss_threshold_msec": $T, "input_preference": "EQUAL" } },
   "record_settings": { "rollingbuffer_duration": 0 },
   "endpoints": [{ "hls_package": [{ "url": "localhost/live/fo/index.m3u8", "hls_version": "3",
     "segment_duration_seconds": 2, "playlist_window_seconds": $WINDOW }] }] }]
EOF
log "headwater: $("$HEADWATER_BIN" --version); $(ffmpeg -version | head -1 | cut -d' ' -f1-3); N=$N T=${T}ms"
RUST_LOG=info NO_COLOR=1 "$HEADWATER_BIN" serve --rtmp-listen "127.0.0.1:$HW_RTMP_PORT" \
    --srt-listen "127.0.0.1:$HW_SRT_PORT" --http-listen "127.0.0.1:$HW_HTTP_PORT" \
    --api-listen "127.0.0.1:$HW_API_PORT" --data-dir "$TMP/data" --channels "$TMP/channels.json" \
    2>"$TMP/headwater.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "headwater listening" "$TMP/headwater.log" && break; sleep 0.1; done

encode() { # $1 stream key, $2 pattern
    ffmpeg -hide_banner -loglevel error -nostats -re -f lavfi -i "$2=size=320x240:rate=25" \
        -re -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -keyint_min 25 -sc_threshold 0 \
        -b:v 300k -pix_fmt yuv420p -c:a aac -b:a 64k \
        -f flv "rtmp://127.0.0.1:$HW_RTMP_PORT/live/$1" </dev/null &
    PIDS+=($!)
}
encode fo_900000 testsrc2
PRIMARY=${PIDS[-1]}
sleep 1
encode fo_900000_standby smptebars
STANDBY=${PIDS[-1]}
sleep 6

switches() { grep -c "server::switch: input switched" "$TMP/headwater.log" || true; }
active=$PRIMARY
other=$STANDBY
for i in $(seq "$N"); do
    before=$(switches)
    kill -STOP "$active"
    for _ in $(seq 100); do (( $(switches) > before )) && break; sleep 0.05; done
    (( $(switches) > before )) || { log "round $i: no switch within 5 s"; exit 1; }
    sleep 4
    kill -CONT "$active"
    sleep 4 # the thawed encoder catches up and delivers steadily again
    tmp=$active; active=$other; other=$tmp
done
sleep 3

curl -sf "http://127.0.0.1:$HW_HTTP_PORT/live/fo/index/900000/playlist.m3u8" >"$TMP/playlist.m3u8"
grep "server::switch: input switched" "$TMP/headwater.log" | sed 's/.*switch_time_ms=\([0-9]*\).*/\1/' >"$TMP/switch_ms"
python3 - "$TMP/switch_ms" "$TMP/playlist.m3u8" "$T" <<'EOF'
import sys, statistics
from datetime import datetime
times = [int(l) for l in open(sys.argv[1]) if l.strip()]
t = int(sys.argv[3])
segs, disc, pdt = [], False, None
for line in open(sys.argv[2]):
    line = line.strip()
    if line == "#EXT-X-DISCONTINUITY":
        disc = True
    elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
        pdt = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp() * 1000
    elif line.startswith("#EXTINF:"):
        dur = float(line[8:].split(",")[0]) * 1000
        segs.append((pdt, dur, disc))
        disc = False
gaps = [round(b[0] - (a[0] + a[1])) for a, b in zip(segs, segs[1:]) if b[2]]
print(f"switches: {len(times)} (switch time in ms, Headwater's measure)")
print(f"  median {statistics.median(times):.0f}  min {min(times)}  max {max(times)}  target <= {t + 40}")
print(f"  over target: {sum(1 for x in times if x > t + 40)}")
print(f"discontinuities on the playlist: {len(gaps)}")
if gaps:
    print(f"output gap at a switch (ms): median {statistics.median(gaps):.0f}  min {min(gaps)}  max {max(gaps)}  bound {t}")
within = [round(b[0] - (a[0] + a[1])) for a, b in zip(segs, segs[1:]) if not b[2]]
if within:
    print(f"largest gap between segments of one input (ms): {max(abs(x) for x in within)}")
EOF
