#!/usr/bin/env bash
# Catch-up index at scale: a synthetic 14-day rolling buffer against a 1-hour one, for one
# channel of three renditions (3000000, 1500000 and 800000 bit/s) cut in 4 s segments.
#
# The example `synth_catchup` (crates/server/examples/synth_catchup.rs) writes each buffer with
# the segmenter's own DiskStore, ending now: 1 h = 900 segments per rendition, 14 d = 302,400
# (907,200 in all). Its sample tables are shortened except in the newest 15 min (see the
# example's documentation for why that does not change what is measured here). Then, R rounds,
# alternating which buffer goes first, the release `headwater serve` is started on each buffer
# with a channels file (HLS-TS, DASH and Smooth packages, 4 s segments, a 60 s window,
# `rollingbuffer_duration` 3600 or 1209600) and measured:
#
# - start to serving: from spawning the process until the live HLS media playlist answers 200
#   (polled every ~5 ms over bash /dev/tcp); the channel database is deleted before each
#   start, so every start imports the channels file as the first one did;
# - manifest times over one keep-alive connection (one curl per kind, N requests each after
#   W warm-up requests, curl's time_total): the live HLS media playlist as players get it
#   (from the manifest cache after the first), the same playlist with a cache-busting query
#   (`?n=I`, rendered from the live window every time), and 2 h catch-up views
#   (`?start=&end=`, Unix seconds) as an HLS media playlist, a DASH MPD and a Smooth manifest
#   at N positions spread over the buffer, and a 1 h catch-up HLS media playlist at the same
#   positions. The 1 h buffer has no 2 h interval: its catch-up requests all ask for the whole
#   hour it holds (900 segments), so its 1 h row compares like with like against the 14 d one.
#   Before each kind the buffer's .sum files are read once (`cat`), so they are in the page
#   cache as on a server that has served the buffer before;
# - VmRSS, VmHWM and RssAnon from /proc/PID/status, right after serving starts and after all
#   requests;
# - then R more starts per buffer with the buffer's file data dropped from the page cache first
#   (sync, then posix_fadvise DONTNEED on each of its files: nothing else is evicted), each
#   with one 2 h catch-up HLS request after it.
#
# Usage: scripts/bench-catchup.sh [R]          (default R=3 rounds)
# Env:   HEADWATER_BIN=... SYNTH_BIN=...  (both set: skip the build; they are copied first)
#        N=200 requests per kind, W=5 warm-up requests per kind
#        HW_HTTP_PORT=18190 HW_API_PORT=18191 HW_RTMP_PORT=19390 HW_SRT_PORT=19391  KEEP_TMP=1
# Needs: curl, python3. Disk: ~540 MB in a temp dir, deleted on exit.
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

R=${1:-3}
N=${N:-200}
W=${W:-5}
HW_HTTP_PORT=${HW_HTTP_PORT:-18190}
HW_API_PORT=${HW_API_PORT:-18191}
HW_RTMP_PORT=${HW_RTMP_PORT:-19390}
HW_SRT_PORT=${HW_SRT_PORT:-19391}
CHANNEL=cu
BITRATES=3000000,1500000,800000
LIVE=/live/$CHANNEL/index/3000000/playlist.m3u8

REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/bench-catchup.XXXXXX)
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

for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y curl python3)" >&2; exit 2; }
done
[[ $R =~ ^[0-9]+$ && $R -ge 1 && $R -le 20 ]] || { echo "R must be 1..20" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $N -le 5000 ]] || { echo "N must be 10..5000" >&2; exit 2; }
[[ $W =~ ^[0-9]+$ && $W -ge 1 ]] || { echo "W must be 1 or more" >&2; exit 2; }

MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
REV="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO" && git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -z ${HEADWATER_BIN:-} || -z ${SYNTH_BIN:-} ]]; then
    log "cargo build --release -p server --bin headwater --example synth_catchup"
    (cd "$REPO" && cargo build --release -p server --bin headwater --example synth_catchup) >&2
    HEADWATER_BIN=$REPO/target/release/headwater
    SYNTH_BIN=$REPO/target/release/examples/synth_catchup
fi
cp "$HEADWATER_BIN" "$TMP/headwater"
cp "$SYNTH_BIN" "$TMP/synth_catchup"

# --- The two buffers ---------------------------------------------------------------------------
declare -A RETENTION=([1h]=3600 [14d]=1209600) START=() END=()
: >"$TMP/results"
for set in 1h 14d; do
    log "writing the $set buffer"
    out=$("$TMP/synth_catchup" --data-dir "$TMP/$set" --channel "$CHANNEL" \
        --duration-secs "${RETENTION[$set]}" --bitrates "$BITRATES" --segment-secs 4)
    log "  $out"
    START[$set]=$(sed 's/.*start_unix=\([0-9]*\).*/\1/' <<<"$out")
    END[$set]=$(sed 's/.*end_unix=\([0-9]*\).*/\1/' <<<"$out")
    segments=$(sed 's/.*segments=\([0-9]*\).*/\1/' <<<"$out")
    secs=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$out")
    files=$(find "$TMP/$set" -type f | wc -l)
    disk=$(du -sk "$TMP/$set" | cut -f1)
    apparent=$(du -sk --apparent-size "$TMP/$set" | cut -f1)
    sums=$(find "$TMP/$set" -name '*.sum' -printf '%s\n' | awk '{s += $1} END {print s}')
    idx=$(find "$TMP/$set" -name '*.idx' -printf '%s\n' | awk '{s += $1} END {print s}')
    dat=$(find "$TMP/$set" -name '*.dat' -printf '%s\n' | awk '{s += $1} END {print s}')
    printf 'gen\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$segments" "$secs" "$files" \
        "$disk" "$apparent" "$sums" "$idx" "$dat" >>"$TMP/results"
    cat >"$TMP/channels-$set.json" <<EOF
[{
  "domain": "localhost", "app_name": "live", "id": "$CHANNEL", "state": "ON",
  "input": { "input_protocol": "RTMP_PUSH", "sources": [
    { "bitrate": 3000000, "width": 320, "height": 240 },
    { "bitrate": 1500000, "width": 320, "height": 240 },
    { "bitrate": 800000, "width": 160, "height": 120 } ] },
  "record_settings": { "rollingbuffer_duration": ${RETENTION[$set]} },
  "endpoints": [{
    "hls_package": [{ "url": "localhost/live/$CHANNEL/index.m3u8", "hls_version": "3",
                      "segment_duration_seconds": 4, "playlist_window_seconds": 60 }],
    "dash_package": [{ "url": "localhost/live/$CHANNEL/manifest.mpd",
                       "segment_duration_seconds": 4, "playlist_window_seconds": 60 }],
    "mss_package": [{ "url": "localhost/live/$CHANNEL/mss/Manifest",
                      "segment_duration_seconds": 4, "playlist_window_seconds": 60 }]
  }]
}]
EOF
done

# --- Helpers -----------------------------------------------------------------------------------
# Whether the live HLS media playlist answers 200 now (one connection, no process but a subshell).
probe() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$HW_HTTP_PORT" || exit 1
        printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$LIVE" >&3
        IFS= read -r -t 5 status <&3 || exit 1
        [[ $status == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}
status_kb() { # pid field
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}
# The request query of catch-up request I of buffer SET: an interval of SPAN seconds (default
# 2 h) at a position spread over the 14 d buffer (a step of 6,007 s modulo what fits), the whole
# hour of the 1 h buffer.
catchup_query() { # set i [span]
    local from to span=${3:-7200}
    if [[ $1 == 1h ]]; then
        from=${START[1h]} to=${END[1h]}
    else
        from=$((${START[14d]} + 300 + ($2 * 6007) % (${END[14d]} - ${START[14d]} - 7200 - 600)))
        to=$((from + span))
    fi
    printf 'start=%s&end=%s' "$from" "$to"
}
# W + N requests of one kind on one keep-alive connection; prints "code seconds bytes" per
# request, the warm-up ones included.
run_kind() { # set kind
    local i path query cfg=$TMP/curl.cfg
    : >"$cfg"
    for ((i = 0; i < W + N; i++)); do
        case $2 in
            live) path=$LIVE query= ;;
            live_rendered) path=$LIVE query="n=$i" ;;
            hls) path=$LIVE query=$(catchup_query "$1" "$i") ;;
            hls_1h) path=$LIVE query=$(catchup_query "$1" "$i" 3600) ;;
            dash) path=/live/$CHANNEL/manifest.mpd query=$(catchup_query "$1" "$i") ;;
            mss) path=/live/$CHANNEL/mss/Manifest query=$(catchup_query "$1" "$i") ;;
        esac
        printf 'url = "http://127.0.0.1:%s%s%s"\noutput = "/dev/null"\n' \
            "$HW_HTTP_PORT" "$path" "${query:+?$query}" >>"$cfg"
    done
    curl -s -K "$cfg" -w '%{http_code} %{time_total} %{size_download}\n'
}
KINDS=(live live_rendered hls dash mss hls_1h)

# Starts Headwater on buffer SET (logging to headwater-SET-TAG.log) and waits until the live
# HLS media playlist answers 200; sets pid and start_ms (from spawning to that answer).
start_server() { # set tag
    local t0 served start_us
    rm -f "$TMP/$1"/headwater.db*
    t0=${EPOCHREALTIME//[.,]/}
    "$TMP/headwater" serve --data-dir "$TMP/$1" --channels "$TMP/channels-$1.json" \
        --http-listen "127.0.0.1:$HW_HTTP_PORT" --api-listen "127.0.0.1:$HW_API_PORT" \
        --rtmp-listen "127.0.0.1:$HW_RTMP_PORT" --srt-listen "127.0.0.1:$HW_SRT_PORT" \
        >"$TMP/headwater-$1-$2.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    served=
    while :; do
        if probe; then served=${EPOCHREALTIME//[.,]/}; break; fi
        kill -0 "$pid" 2>/dev/null || break
        ((${EPOCHREALTIME//[.,]/} - t0 > 60000000)) && break
        sleep 0.005
    done
    if [[ -z $served ]]; then
        echo "Headwater did not serve $LIVE on the $1 buffer:" >&2
        tail -20 "$TMP/headwater-$1-$2.log" >&2
        exit 1
    fi
    start_us=$((served - t0))
    start_ms=$((start_us / 1000)).$((start_us % 1000 / 100))
}
# Stops the server started last and records the warnings and errors of its log.
stop_server() { # set tag
    local warnings other
    kill "$pid"
    wait "$pid" || true
    unset 'PIDS[-1]'
    warnings=$(grep -cE ' (WARN|ERROR) ' "$TMP/headwater-$1-$2.log" || true)
    # The development token warning is expected; anything else is reported.
    other=$(grep -E ' (WARN|ERROR) ' "$TMP/headwater-$1-$2.log" | grep -vc 'no API token configured' || true)
    printf 'log\t%s\t%s\t%s\n' "$1" "$2" "$other" >>"$TMP/results"
    if ((other > 0)); then
        log "$1 $2: $other warnings or errors in the log (of $warnings):"
        grep -E ' (WARN|ERROR) ' "$TMP/headwater-$1-$2.log" | grep -v 'no API token configured' | head -5 >&2
    fi
}
# Drops buffer SET's file data from the page cache (written back first): posix_fadvise
# DONTNEED on each file, so only these files are affected. Directory blocks, inodes and dentries
# stay cached.
evict() { # set
    sync -f "$TMP/$1"
    python3 - "$TMP/$1" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        fd = os.open(os.path.join(root, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

# --- Rounds ------------------------------------------------------------------------------------
for ((round = 1; round <= R; round++)); do
    if ((round % 2)); then order="1h 14d"; else order="14d 1h"; fi
    for set in $order; do
        start_server "$set" "$round"
        rss_idle=$(status_kb "$pid" VmRSS)
        log "round $round $set: serving after $start_ms ms, VmRSS $rss_idle kB"
        printf 'start\t%s\t%s\t%s\n' "$set" "$round" "$start_ms" >>"$TMP/results"
        printf 'rss_idle\t%s\t%s\t%s\n' "$set" "$round" "$rss_idle" >>"$TMP/results"

        # What the views hold, checked once per start.
        q=$(catchup_query "$set" 0)
        body=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT$LIVE?$q")
        listed=$(grep -c '^#EXTINF' <<<"$body" || true)
        if [[ $set == 1h ]]; then want=900; else want=1800; fi
        if ((listed < want || listed > want + 1)) || ! grep -q '^#EXT-X-ENDLIST' <<<"$body"; then
            echo "the $set catch-up playlist lists $listed segments, not $want (or has no ENDLIST)" >&2
            exit 1
        fi
        body=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT/live/$CHANNEL/manifest.mpd?$q")
        [[ $body == *'type="static"'* ]] || { echo "the $set catch-up MPD is not static" >&2; exit 1; }
        body=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT/live/$CHANNEL/mss/Manifest?$q")
        [[ $body == *'IsLive="FALSE"'* ]] ||
            { echo "the $set catch-up Smooth manifest is not a recording" >&2; exit 1; }
        body=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT$LIVE")
        live_listed=$(grep -c '^#EXTINF' <<<"$body" || true)
        ((live_listed >= 10)) || { echo "the $set live playlist lists $live_listed segments" >&2; exit 1; }

        for kind in "${KINDS[@]}"; do
            # The page cache of the benchmark VM shrinks on its own (hundreds of MiB within
            # minutes, with 23 GiB free), so the summary files are read once first: catch-up
            # manifests are measured with them cached, cold starts separately below.
            find "$TMP/$set" -name '*.sum' -exec cat {} + >/dev/null
            run_kind "$set" "$kind" >"$TMP/times-$set-$round-$kind"
            bad=$(awk '$1 != 200' "$TMP/times-$set-$round-$kind" | wc -l)
            got=$(wc -l <"$TMP/times-$set-$round-$kind")
            if ((bad > 0 || got != W + N)); then
                echo "$kind on $set: $bad answers not 200, $got of $((W + N)) requests:" >&2
                sort "$TMP/times-$set-$round-$kind" | uniq -c | sort -rn | head -5 >&2
                exit 1
            fi
            python3 - "$TMP/times-$set-$round-$kind" "$W" "$set" "$round" "$kind" >>"$TMP/results" <<'PY'
import statistics, sys
path, w, dataset, rnd, kind = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rows = [l.split() for l in open(path).read().splitlines()]
first = float(rows[0][1]) * 1000
ms = sorted(float(r[1]) * 1000 for r in rows[w:])
p99 = ms[max(0, -(-99 * len(ms) // 100) - 1)]
size = statistics.median(int(r[2]) for r in rows[w:])
print(f"req\t{dataset}\t{rnd}\t{kind}\t{statistics.median(ms):.3f}\t{p99:.3f}\t{ms[-1]:.3f}\t{first:.3f}\t{size:.0f}")
PY
            log "  $(tail -1 "$TMP/results" | cut -f4-)"
        done
        rss=$(status_kb "$pid" VmRSS) hwm=$(status_kb "$pid" VmHWM) anon=$(status_kb "$pid" RssAnon)
        printf 'rss\t%s\t%s\t%s\t%s\t%s\n' "$set" "$round" "$rss" "$hwm" "$anon" >>"$TMP/results"
        log "round $round $set: after the requests VmRSS $rss kB, VmHWM $hwm kB, RssAnon $anon kB"
        stop_server "$set" "$round"
    done
done

# --- Starts with the buffer's file data out of the page cache ------------------------------------
for ((round = 1; round <= R; round++)); do
    if ((round % 2)); then order="1h 14d"; else order="14d 1h"; fi
    for set in $order; do
        evict "$set"
        start_server "$set" "cold$round"
        q=$(catchup_query "$set" "$round")
        first=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$HW_HTTP_PORT$LIVE?$q")
        [[ $first == "200 "* ]] || { echo "cold catch-up request on $set: $first" >&2; exit 1; }
        first_ms=$(python3 -c "print(f'{${first#* } * 1000:.3f}')")
        log "cold $round $set: serving after $start_ms ms; first 2 h catch-up HLS playlist $first_ms ms"
        printf 'cold\t%s\t%s\t%s\t%s\n' "$set" "$round" "$start_ms" "$first_ms" >>"$TMP/results"
        stop_server "$set" "cold$round"
    done
done

echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $MACHINE; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: scripts/bench-catchup.sh $R (N=$N requests per kind after W=$W warm-up, one keep-alive connection each)"
echo "headwater: $REV; channel of 3 renditions, 4 s segments, HLS-TS + DASH + Smooth"
echo
python3 - "$TMP/results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
med = statistics.median
def pick(tag, dataset, *rest):
    return [r for r in rows if r[0] == tag and r[1] == dataset and all(r[2 + i] == v for i, v in enumerate(rest) if v is not None)]
print("buffers (per channel of 3 renditions):")
for r in (r for r in rows if r[0] == "gen"):
    _, ds, segs, secs, files, disk, apparent, sums, idx, dat = r
    print(f"  {ds:>4}: {int(segs):,} segments written in {float(secs):.2f} s; {int(files):,} files, "
          f"{int(disk) / 1024:.1f} MiB on disk ({int(apparent) / 1024:.1f} MiB apparent: "
          f".sum {int(sums) / 2**20:.1f}, .idx {int(idx) / 2**20:.1f}, .dat {int(dat) / 2**20:.1f} MiB)")
print()
rounds = sorted({int(r[2]) for r in rows if r[0] == "start"})
print(f"{'measure (median of ' + str(len(rounds)) + ' rounds)':44} {'1 h':>10} {'14 d':>10} {'14 d / 1 h':>11}   per round 1 h | 14 d")
def line(name, a, b, unit, fmt="{:.2f}", diff=False):
    ma, mb = med(a), med(b)
    rel = f"{mb - ma:+.1f} {unit}" if diff else f"{mb / ma:.2f}"
    each = " ".join(fmt.format(x) for x in a) + " | " + " ".join(fmt.format(x) for x in b)
    print(f"{name:44} {fmt.format(ma):>7} {unit:2} {fmt.format(mb):>7} {unit:2} {rel:>11}   {each}")
line("start to serving", [float(r[3]) for r in pick("start", "1h")], [float(r[3]) for r in pick("start", "14d")], "ms", "{:.1f}")
line("start to serving, file data evicted", [float(r[3]) for r in pick("cold", "1h")], [float(r[3]) for r in pick("cold", "14d")], "ms", "{:.1f}")
line("  then first catch-up HLS playlist", [float(r[4]) for r in pick("cold", "1h")], [float(r[4]) for r in pick("cold", "14d")], "ms", "{:.3f}")
names = {"live": "live HLS media playlist (cached)", "live_rendered": "live HLS media playlist (rendered)",
         "hls": "catch-up HLS media playlist", "dash": "catch-up DASH MPD", "mss": "catch-up Smooth manifest",
         "hls_1h": "catch-up HLS media playlist, 1 h"}
for kind, name in names.items():
    a, b = pick("req", "1h", None, kind), pick("req", "14d", None, kind)
    line(f"{name}, median", [float(r[4]) for r in a], [float(r[4]) for r in b], "ms", "{:.3f}")
    line(f"{name}, p99", [float(r[5]) for r in a], [float(r[5]) for r in b], "ms", "{:.3f}")
    line(f"{name}, first request", [float(r[7]) for r in a], [float(r[7]) for r in b], "ms", "{:.3f}")
    print(f"{'  bytes':44} {med(float(r[8]) for r in a):>10,.0f} {med(float(r[8]) for r in b):>10,.0f}")
mib = lambda rs, i: [int(r[i]) / 1024 for r in rs]
line("VmRSS when serving starts", mib(pick("rss_idle", "1h"), 3), mib(pick("rss_idle", "14d"), 3), "MiB", "{:.1f}", True)
line("VmRSS after the requests", mib(pick("rss", "1h"), 3), mib(pick("rss", "14d"), 3), "MiB", "{:.1f}", True)
line("VmHWM after the requests", mib(pick("rss", "1h"), 4), mib(pick("rss", "14d"), 4), "MiB", "{:.1f}", True)
line("RssAnon after the requests", mib(pick("rss", "1h"), 5), mib(pick("rss", "14d"), 5), "MiB", "{:.1f}", True)
logs = sum(int(r[3]) for r in rows if r[0] == "log")
print(f"\nwarnings or errors in the server logs (besides the development token's): {logs}")
PY
