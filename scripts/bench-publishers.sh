#!/usr/bin/env bash
# Load comparison: N concurrent RTMP publishers of a 720p 3 Mbps stream into Headwater, then into
# nginx with libnginx-mod-rtmp producing HLS, in one run, one server after the other, with the
# same fixture, the same 2 s segments, the same 20 s playlists and the same poller (one player
# per stream and format: one fetch of every new segment, as a player would).
#
# OUTPUTS=all enables every output: Headwater gets HLS-TS, HLS-fMP4, DASH and Smooth packages
# per channel and a player for each (HLS-fMP4 counts as two: video and audio playlists); nginx
# gets `dash on` beside `hls on` and a player for each of its two formats. So Headwater serves
# twice the formats nginx does in that mode.
#
# Measures per server, over a steady-state window of D seconds after a warm-up:
#   CPU seconds (utime+stime from /proc/PID/stat, summed over nginx master and workers),
#   CPU seconds per stream per media second, peak RSS (VmHWM, summed over nginx processes)
#   and PSS at the end of the window.
#
# Usage: scripts/bench-publishers.sh [N] [D]        (defaults: N=20 streams, D=60 seconds)
# Env:   WARMUP=5  HEADWATER_BIN=target/release/headwater (skips the build when set)
#        HW_RTMP_PORT=19350 HW_HTTP_PORT=18080 NGX_RTMP_PORT=19351 NGX_HTTP_PORT=18081
#        NGINX_WORKERS=auto  FIXTURE=path.flv (reuse a file instead of generating one)
#        ORDER=headwater-first or nginx-first (which server is measured first)
#        KEEP_TMP=1 (keep the temp dir with logs)
#        OUTPUTS=hls (default) or all (see above)
#        RESULTS=file (append rows: time server streams media_s cpu_s peak_rss_kB pss_kB segments
#        other% steal%, tab-separated, for medians over several runs)
# Needs: ffmpeg, nginx, libnginx-mod-rtmp, curl, python3 (Debian: apt-get install -y nginx
#        libnginx-mod-rtmp ffmpeg curl python3).
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

N=${1:-20}
D=${2:-60}
WARMUP=${WARMUP:-5}
HW_RTMP_PORT=${HW_RTMP_PORT:-19350}
HW_HTTP_PORT=${HW_HTTP_PORT:-18080}
NGX_RTMP_PORT=${NGX_RTMP_PORT:-19351}
NGX_HTTP_PORT=${NGX_HTTP_PORT:-18081}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
NGINX_RTMP_MODULE=${NGINX_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
BITRATE=3000000
SEGMENT_SECS=2
WINDOW_SECS=20
OUTPUTS=${OUTPUTS:-hls}
[[ $OUTPUTS == hls || $OUTPUTS == all ]] || { echo "OUTPUTS must be hls or all" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/bench-publishers.XXXXXX)
CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
PIDS=()   # every process this script started, stopped by cleanup

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { printf '\n!!!!!!!! FAILURE: %s !!!!!!!!\n\n' "$*" >&2; FAILURES=$((FAILURES + 1)); }
FAILURES=0

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n ${KEEP_TMP:-} ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in ffmpeg nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx libnginx-mod-rtmp ffmpeg curl python3)" >&2; exit 2; }
done
[[ -f $NGINX_RTMP_MODULE ]] || { echo "missing $NGINX_RTMP_MODULE (apt-get install -y libnginx-mod-rtmp)" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 200 ]] || { echo "N must be 1..200" >&2; exit 2; }
[[ $D =~ ^[0-9]+$ && $D -ge 10 && $D -le 3600 ]] || { echo "D must be 10..3600 seconds" >&2; exit 2; }

# --- Machine -------------------------------------------------------------------------------
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
log "machine: $MACHINE; kernel $(uname -r)"
log "nginx: $(nginx -v 2>&1 | sed 's/.*: //'); libnginx-mod-rtmp $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp 2>/dev/null || echo '?'); $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"

# --- Fixture: 10 s of 720p25 H.264 at 3 Mbps (2 s GOP, B-frames) + AAC 128k, in FLV -----------
if [[ -z ${FIXTURE:-} ]]; then
    FIXTURE=$TMP/ffmpeg_h264-aac_1280x720_25fps_10s_2s-gop_3M.flv
    log "generating $FIXTURE"
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t 10 -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 50 -keyint_min 50 -sc_threshold 0 \
        -b:v 3M -maxrate 3M -bufsize 6M -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv "$FIXTURE"
fi
FIXTURE_KBPS=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$FIXTURE" | awk '{printf "%d", $1/1000}')
log "fixture: $(stat -c %s "$FIXTURE") bytes, ${FIXTURE_KBPS} kbit/s"

# --- Headwater build -------------------------------------------------------------------------
REV="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO" && git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes')"
if [[ -z ${HEADWATER_BIN:-} ]]; then
    log "cargo build --release -p server --bin headwater"
    (cd "$REPO" && cargo build --release -p server --bin headwater) >&2
    HEADWATER_BIN=$REPO/target/release/headwater
    HEADWATER_FROM="built from $REV"
else
    HEADWATER_FROM="HEADWATER_BIN=$HEADWATER_BIN (working tree at $REV)"
fi
[[ -x $HEADWATER_BIN ]] || { echo "no headwater binary at $HEADWATER_BIN" >&2; exit 2; }
# A private copy: the shared target/ directory may be rebuilt by someone else mid-run.
cp "$HEADWATER_BIN" "$TMP/headwater"
HEADWATER_BIN=$TMP/headwater

# --- The HLS poller: one fetch of every new segment of every stream -------------------------
cat >"$TMP/poller.py" <<'PY'
"""A player per job: fetches a manifest every second and every media segment (and init segment)
it has not fetched yet, once, joining at the live edge; stops after a deadline and writes totals
as JSON. A job is KIND=URL: `hls` (a media playlist), `mpd` (a DASH MPD: the first
Representation of each AdaptationSet, as a player plays one video and one audio) or `mss` (a
Smooth manifest: the first QualityLevels of each StreamIndex)."""
import http.client, json, re, sys, threading, time, urllib.parse
import xml.etree.ElementTree as ET

duration, out_path, jobs = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
deadline = time.monotonic() + duration

def local(tag):
    return tag.rsplit("}", 1)[-1]

def children(el, name):
    return [c for c in el if local(c.tag) == name]

def hls_entries(url, body):
    """(media segment URLs, init URLs, entries) of a media playlist."""
    lines = body.decode("utf-8", "replace").splitlines()
    inits = [urllib.parse.urljoin(url, m) for m in re.findall(r'#EXT-X-MAP:URI="([^"]+)"', body.decode("utf-8", "replace"))]
    media = [urllib.parse.urljoin(url, l) for l in lines if l and not l.startswith("#")]
    return media, inits, sum(l.startswith("#EXTINF") for l in lines)

def mpd_entries(url, body):
    root = ET.fromstring(body)
    media, inits, entries = [], [], 0
    for period in children(root, "Period"):
        for aset in children(period, "AdaptationSet"):
            reps = children(aset, "Representation")
            if not reps:
                continue
            rep = reps[0]
            tmpl = (children(rep, "SegmentTemplate") or children(aset, "SegmentTemplate") or [None])[0]
            if tmpl is None:
                continue
            base = url
            for holder in (root, period, aset, rep):
                for b in children(holder, "BaseURL"):
                    base = urllib.parse.urljoin(base, (b.text or "").strip())
            def fill(t, time_=None):
                t = t.replace("$RepresentationID$", rep.get("id", "")).replace("$Bandwidth$", rep.get("bandwidth", ""))
                return t.replace("$Time$", str(time_)) if time_ is not None else t
            if tmpl.get("initialization"):
                inits.append(urllib.parse.urljoin(base, fill(tmpl.get("initialization"))))
            t = 0
            for tl in children(tmpl, "SegmentTimeline"):
                for s in children(tl, "S"):
                    t = int(s.get("t", t))
                    d = int(s.get("d"))
                    for _ in range(int(s.get("r", "0")) + 1):
                        media.append(urllib.parse.urljoin(base, fill(tmpl.get("media"), t)))
                        entries += 1
                        t += d
    return media, inits, entries

def mss_entries(url, body):
    root = ET.fromstring(body)
    media, entries = [], 0
    for si in children(root, "StreamIndex"):
        levels = children(si, "QualityLevel")
        if not levels or not si.get("Url"):
            continue
        tmpl = si.get("Url").replace("{bitrate}", levels[0].get("Bitrate", "")).replace("{Bitrate}", levels[0].get("Bitrate", ""))
        t = 0
        for c in children(si, "c"):
            t = int(c.get("t", t))
            d = int(c.get("d"))
            for _ in range(int(c.get("r", "1"))):
                media.append(urllib.parse.urljoin(url, tmpl.replace("{start time}", str(t)).replace("{start_time}", str(t))))
                entries += 1
                t += d
    return media, [], entries

PARSERS = {"hls": hls_entries, "mpd": mpd_entries, "mss": mss_entries}

def is_media(data):
    return data[:1] == b"\x47" or data[4:8] in (b"styp", b"moof", b"ftyp", b"sidx")

def poll(kind, url, st):
    u = urllib.parse.urlsplit(url)
    conn, seen, first = None, set(), True
    def get(target):
        path = urllib.parse.urlsplit(target)
        conn.request("GET", path.path + ("?" + path.query if path.query else ""))
        r = conn.getresponse()
        return r.status, r.read()
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            status, body = get(url)
            if status != 200:
                st["playlist_errors"] += 1
            else:
                st["playlists"] += 1
                media, inits, entries = PARSERS[kind](url, body)
                st["max_entries"] = max(st["max_entries"], entries)
                if first and media:
                    seen.update(media[:-3])  # join at the live edge, like a player
                    first = False
                for target in inits + media:
                    if target in seen or time.monotonic() >= deadline:
                        continue
                    seen.add(target)
                    status, data = get(target)
                    if status == 200 and is_media(data):
                        st["segments" if target in media else "inits"] += 1
                        st["bytes"] += len(data)
                    else:
                        st["segment_errors"] += 1
                        if len(st["error_samples"]) < 3:
                            st["error_samples"].append(f"{status} {target}")
        except (OSError, http.client.HTTPException, ET.ParseError, ValueError, TypeError):
            st["connect_errors"] += 1
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))

stats, threads = [], []
for job in jobs:
    kind, url = job.split("=", 1)
    st = dict(url=url, kind=kind, playlists=0, playlist_errors=0, segments=0, inits=0, bytes=0,
              segment_errors=0, connect_errors=0, max_entries=0, error_samples=[])
    stats.append(st)
    t = threading.Thread(target=poll, args=(kind, url, st), daemon=True)
    t.start()
    threads.append(t)
for t in threads:
    t.join(duration + 15)
with open(out_path, "w") as f:
    json.dump(stats, f)
PY

# --- Helpers ---------------------------------------------------------------------------------
wait_port() { # host port seconds
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# CPU ticks (utime+stime) summed over the given pids. Fields after "comm)" start at field 3.
cpu_ticks() {
    local pid sum=0 rest
    for pid in "$@"; do
        rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        sum=$((sum + $(awk '{print $12 + $13}' <<<"$rest")))
    done
    echo "$sum"
}
# Sum of one /proc/PID/status field (kB) over pids.
status_kb() {
    local field=$1 pid sum=0 v
    shift
    for pid in "$@"; do
        v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
pss_kb() {
    local pid sum=0 v
    for pid in "$@"; do
        v=$(awk '$1 == "Pss:" {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# Machine-wide busy and steal jiffies, to judge how disturbed a window was.
machine_jiffies() { awk '/^cpu / {print $2+$3+$4+$7+$8, $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

server_pids() { # master pid -> master plus its children (nginx workers)
    echo "$1"
    pgrep -P "$1" || true
}

# Runs one server's measurement. Args: name master_pid rtmp_url_prefix stream_suffix poll_urls...
# Writes "name streams media_s cpu_s peak_rss_kb pss_kb segments busy% steal%" to $TMP/result.$name
measure() {
    local name=$1 master=$2 rtmp_prefix=$3 suffix=$4
    shift 4
    local poll_urls=("$@") pubs=() i pid

    for ((i = 1; i <= N; i++)); do
        ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$FIXTURE" \
            -c copy -f flv "$rtmp_prefix/s$i$suffix" >"$TMP/$name.ffmpeg.s$i.log" 2>&1 &
        pubs+=($!)
        PIDS+=($!)
    done
    python3 "$TMP/poller.py" "$((WARMUP + D))" "$TMP/$name.poll.json" "${poll_urls[@]}" &
    local poller=$!
    PIDS+=($poller)

    sleep "$WARMUP"
    local pids0 t0 c0 m0 h0
    mapfile -t pids0 < <(server_pids "$master")
    t0=$(date +%s.%N)
    c0=$(cpu_ticks "${pids0[@]}")
    h0=$(cpu_ticks "${pubs[@]}" "$poller")
    m0=$(machine_jiffies)
    sleep "$D"
    local pids1 t1 c1 m1 h1 hwm pss rss
    mapfile -t pids1 < <(server_pids "$master")
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${pids1[@]}")
    h1=$(cpu_ticks "${pubs[@]}" "$poller")
    m1=$(machine_jiffies)
    hwm=$(status_kb VmHWM "${pids1[@]}")
    rss=$(status_kb VmRSS "${pids1[@]}")
    pss=$(pss_kb "${pids1[@]}")
    [[ "${pids0[*]}" == "${pids1[*]}" ]] || fail "$name: process set changed during the window (${pids0[*]} -> ${pids1[*]}); CPU of exited processes is missing"

    local alive=0
    for pid in "${pubs[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive=$((alive + 1)); fi
    done
    [[ $alive -eq $N ]] || fail "$name: only $alive of $N publishers still running at the end of the window (see $TMP/$name.ffmpeg.*.log)"

    wait "$poller" || fail "$name: poller exited with an error"
    for pid in "${pubs[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pubs[@]}"; do wait "$pid" 2>/dev/null || true; done

    python3 - "$TMP/$name.poll.json" "$N" "$D" >"$TMP/$name.poll.summary" <<'PY'
import json, sys
stats, n, d = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
seg = sum(s["segments"] for s in stats)
not_ready = sum(s["playlist_errors"] for s in stats)
errs = sum(s["segment_errors"] + s["connect_errors"] for s in stats)
empty = [s["url"] for s in stats if s["segments"] == 0 or s["max_entries"] == 0]
mb = sum(s["bytes"] for s in stats) / 1e6
kinds = {}
for s in stats:
    k = kinds.setdefault(s["kind"], [0, 0, 0])
    k[0] += 1; k[1] += s["segments"]; k[2] += s["inits"]
by_kind = ",".join(f"{kind}:{v[0]}jobs/{v[1]}segs/{v[2]}inits" for kind, v in sorted(kinds.items()))
samples = [e for s in stats for e in s["error_samples"]][:3]
print(seg, not_ready, errs, len(empty), f"{mb:.0f}", min(s["max_entries"] for s in stats), by_kind, "|".join(samples) or "-")
PY
    local segs not_ready errs empty mb min_entries by_kind samples
    read -r segs not_ready errs empty mb min_entries by_kind samples <"$TMP/$name.poll.summary"
    log "$name: poller fetched $segs segments ($mb MB; $by_kind); $not_ready manifest requests before media was ready; $errs segment or connection errors (e.g. $samples); $empty players without segments; min entries per manifest $min_entries"
    [[ $empty -eq 0 ]] || fail "$name: $empty of ${#poll_urls[@]} players never got a segment"
    [[ $errs -le $((segs / 20)) ]] || fail "$name: $errs segment or connection errors for $segs segments fetched"
    log "$name: processes measured: $(ps -o args= -p "$(IFS=,; echo "${pids1[*]}")" | cut -c1-32 | sort | uniq -c | awk '{$1 = $1 " x"; print}' | paste -sd ';')"

    awk -v name="$name" -v n="$alive" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" \
        -v hwm="$hwm" -v pss="$pss" -v rss="$rss" -v segs="$segs" -v m0="$m0" -v m1="$m1" -v h0="$h0" -v h1="$h1" '
        BEGIN {
            split(m0, a, " "); split(m1, b, " ")
            total = b[3] - a[3]
            busy = b[1] - a[1]
            # The rest of the machine: busy time not spent in the server, the publishers or the poller.
            other = busy - (c1 - c0) - (h1 - h0)
            printf "%s %d %.1f %.2f %d %d %d %d %.0f %.0f %.1f %.2f\n", name, n, n * (t1 - t0), (c1 - c0) / hz,
                hwm, pss, rss, segs, 100 * busy / total, 100 * (other > 0 ? other : 0) / total,
                100 * (b[2] - a[2]) / total, (h1 - h0) / hz
        }' >"$TMP/result.$name"
}

for p in "$HW_RTMP_PORT" "$HW_HTTP_PORT" "$NGX_RTMP_PORT" "$NGX_HTTP_PORT"; do
    port_free "$p" || { echo "port $p on 127.0.0.1 is in use; set HW_*/NGX_* ports" >&2; exit 2; }
done

# --- (a) Headwater ---------------------------------------------------------------------------
# The packages of channel sI: HLS-TS, plus HLS-fMP4, DASH and Smooth with OUTPUTS=all.
packages() {
    local seg="\"segment_duration_seconds\": $SEGMENT_SECS, \"playlist_window_seconds\": $WINDOW_SECS"
    printf '"hls_package": [{ "url": "localhost/live/s%s/index.m3u8", "hls_version": "3", %s }' "$1" "$seg"
    if [[ $OUTPUTS == all ]]; then
        printf ', { "url": "localhost/live/s%s/cmaf.m3u8", "hls_version": "7", %s }],\n' "$1" "$seg"
        printf '      "dash_package": [{ "url": "localhost/live/s%s/manifest.mpd", %s }],\n' "$1" "$seg"
        printf '      "mss_package": [{ "url": "localhost/live/s%s/Manifest", %s }]' "$1" "$seg"
    else
        printf ']'
    fi
}

run_headwater() {
    {
        echo "["
        for ((i = 1; i <= N; i++)); do
            sep=","
            [[ $i -eq $N ]] && sep=""
            cat <<EOF
  {
    "domain": "localhost", "app_name": "live", "id": "s$i", "name": "bench stream $i", "state": "ON",
    "input": { "input_protocol": "RTMP_PUSH", "sources": [{ "bitrate": $BITRATE, "width": 1280, "height": 720 }] },
    "record_settings": { "rollingbuffer_duration": 0 },
    "endpoints": [{ $(packages "$i") }]
  }$sep
EOF
        done
        echo "]"
    } >"$TMP/channels.json"

    log "Headwater: $HEADWATER_BIN, $N channels, ${D}s window after ${WARMUP}s warm-up"
    mkdir -p "$TMP/headwater-data"
    RUST_LOG=${RUST_LOG:-info} "$HEADWATER_BIN" serve \
        --rtmp-listen "127.0.0.1:$HW_RTMP_PORT" --http-listen "127.0.0.1:$HW_HTTP_PORT" \
        --data-dir "$TMP/headwater-data" --channels "$TMP/channels.json" >"$TMP/headwater.log" 2>&1 &
    HW_PID=$!
    PIDS+=($HW_PID)
    wait_port 127.0.0.1 "$HW_HTTP_PORT" 20 && wait_port 127.0.0.1 "$HW_RTMP_PORT" 5 || {
        tail -20 "$TMP/headwater.log" >&2
        echo "Headwater did not start" >&2
        exit 1
    }
    hw_urls=()
    for ((i = 1; i <= N; i++)); do
        local base="http://127.0.0.1:$HW_HTTP_PORT/live/s$i"
        hw_urls+=("hls=$base/index/$BITRATE/playlist.m3u8")
        if [[ $OUTPUTS == all ]]; then
            hw_urls+=("hls=$base/cmaf/$BITRATE/playlist.m3u8" "hls=$base/cmaf/$BITRATE/audio.m3u8"
                "mpd=$base/manifest.mpd" "mss=$base/Manifest")
        fi
    done
    measure headwater "$HW_PID" "rtmp://127.0.0.1:$HW_RTMP_PORT/live" "_$BITRATE" "${hw_urls[@]}"
    # Outputs, checked after the window (publishers stopped; the window still holds the segments).
    for i in $(printf '%s\n' 1 $(((N + 1) / 2)) "$N" | sort -un); do
        n=$(curl -sf "http://127.0.0.1:$HW_HTTP_PORT/live/s$i/index/$BITRATE/playlist.m3u8" | grep -c '^#EXTINF' || true)
        if [[ ${n:-0} -gt 0 ]]; then log "headwater: s$i playlist lists $n segments"; else fail "headwater: no #EXTINF in the s$i media playlist"; fi
    done
    kill "$HW_PID"
    wait "$HW_PID" 2>/dev/null || true
}

# --- (b) nginx + libnginx-mod-rtmp -----------------------------------------------------------
run_nginx() {
    NGX=$TMP/nginx
    mkdir -p "$NGX/hls" "$NGX/dash" "$NGX/logs" "$NGX/tmp"
    DASH_CONF=""
    if [[ $OUTPUTS == all ]]; then
        DASH_CONF="            dash on;
            dash_path $NGX/dash;
            dash_nested on;
            dash_fragment ${SEGMENT_SECS}s;
            dash_playlist_length ${WINDOW_SECS}s;"
    fi
    user_line=""
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    cat >"$NGX/nginx.conf" <<EOF
load_module $NGINX_RTMP_MODULE;
$user_line
worker_processes $NGINX_WORKERS;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 1024; }
rtmp {
    server {
        listen 127.0.0.1:$NGX_RTMP_PORT;
        chunk_size 4096;
        application live {
            live on;
            record off;
            hls on;
            hls_path $NGX/hls;
            hls_nested on;
            hls_fragment ${SEGMENT_SECS}s;
            hls_playlist_length ${WINDOW_SECS}s;
$DASH_CONF
        }
    }
}
http {
    access_log off;
    client_body_temp_path $NGX/tmp/body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; application/dash+xml mpd; video/mp4 m4v; audio/mp4 m4a; }
    server {
        listen 127.0.0.1:$NGX_HTTP_PORT;
        location /hls/ {
            alias $NGX/hls/;
            add_header Cache-Control no-cache;
        }
        location /dash/ {
            alias $NGX/dash/;
            add_header Cache-Control no-cache;
        }
    }
}
EOF
    log "nginx: worker_processes $NGINX_WORKERS, $N streams"
    nginx -c "$NGX/nginx.conf" -p "$NGX" -e "$NGX/logs/error.log" -g 'daemon off;' >"$NGX/logs/stdout.log" 2>&1 &
    NGX_PID=$!
    PIDS+=($NGX_PID)
    wait_port 127.0.0.1 "$NGX_HTTP_PORT" 20 && wait_port 127.0.0.1 "$NGX_RTMP_PORT" 5 || {
        cat "$NGX/logs/"* >&2
        echo "nginx did not start" >&2
        exit 1
    }
    ngx_urls=()
    for ((i = 1; i <= N; i++)); do
        ngx_urls+=("hls=http://127.0.0.1:$NGX_HTTP_PORT/hls/s$i/index.m3u8")
        if [[ $OUTPUTS == all ]]; then ngx_urls+=("mpd=http://127.0.0.1:$NGX_HTTP_PORT/dash/s$i/index.mpd"); fi
    done
    measure nginx "$NGX_PID" "rtmp://127.0.0.1:$NGX_RTMP_PORT/live" "" "${ngx_urls[@]}"
    missing=0
    for ((i = 1; i <= N; i++)); do
        if ! grep -q '^#EXTINF' "$NGX/hls/s$i/index.m3u8" 2>/dev/null; then missing=$((missing + 1)); fi
    done
    if [[ $missing -eq 0 ]]; then log "nginx: all $N index.m3u8 files exist with #EXTINF lines"; else fail "nginx: $missing of $N streams have no index.m3u8 with #EXTINF under $NGX/hls"; fi
    NGX_DISK_KB=$(du -sk "$NGX/hls" "$NGX/dash" | awk '{s += $1} END {print s}')
    kill "$NGX_PID"
    wait "$NGX_PID" 2>/dev/null || true
}

case ${ORDER:-headwater-first} in
    headwater-first) run_headwater; run_nginx ;;
    nginx-first) run_nginx; run_headwater ;;
    *) echo "ORDER must be headwater-first or nginx-first" >&2; exit 2 ;;
esac

# --- Report ----------------------------------------------------------------------------------
echo
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $MACHINE"
echo "command: OUTPUTS=$OUTPUTS scripts/bench-publishers.sh $N $D (WARMUP=$WARMUP; ORDER=${ORDER:-headwater-first}; nginx worker_processes $NGINX_WORKERS; Headwater's tokio multi-thread runtime has one worker per core)"
echo "fixture: 720p25 H.264 + AAC, ${FIXTURE_KBPS} kbit/s, 2 s GOP, looped by ffmpeg -re -stream_loop -1 -c copy"
echo "headwater: $HEADWATER_FROM"
echo "outputs: $([[ $OUTPUTS == all ]] && echo 'Headwater HLS-TS + HLS-fMP4 + DASH + Smooth, nginx HLS + DASH, a player per format' || echo 'HLS-TS on both, one player per stream')"
echo "nginx files on disk at the end: $((NGX_DISK_KB / 1024)) MiB (page cache, not in nginx RSS)"
echo
read -r _ hn hmedia hcpu hhwm hpss _ hsegs hbusy hother hsteal hharness <"$TMP/result.headwater"
read -r _ nn nmedia ncpu nhwm npss _ nsegs nbusy nother nsteal nharness <"$TMP/result.nginx"
awk -v hn="$hn" -v hmedia="$hmedia" -v hcpu="$hcpu" -v hhwm="$hhwm" -v hpss="$hpss" -v hsegs="$hsegs" -v hbusy="$hbusy" -v hother="$hother" -v hsteal="$hsteal" -v hharness="$hharness" \
    -v nn="$nn" -v nmedia="$nmedia" -v ncpu="$ncpu" -v nhwm="$nhwm" -v npss="$npss" -v nsegs="$nsegs" -v nbusy="$nbusy" -v nother="$nother" -v nsteal="$nsteal" -v nharness="$nharness" '
BEGIN {
    fmt = "%-10s %7s %8s %7s %14s %13s %12s %9s %11s %17s\n"
    printf fmt, "server", "streams", "media s", "CPU s", "CPU s/stream/s", "peak RSS MiB", "end PSS MiB", "segments", "harness s", "busy/other/steal%"
    hper = hcpu / hmedia; nper = ncpu / nmedia
    row = "%-10s %7d %8.0f %7.2f %14.5f %13.1f %12.1f %9d %11.1f %17s\n"
    printf row, "headwater", hn, hmedia, hcpu, hper, hhwm / 1024, hpss / 1024, hsegs, hharness, sprintf("%d/%d/%.1f", hbusy, hother, hsteal)
    printf row, "nginx-rtmp", nn, nmedia, ncpu, nper, nhwm / 1024, npss / 1024, nsegs, nharness, sprintf("%d/%d/%.1f", nbusy, nother, nsteal)
    printf "%-10s %7s %8s %7s %14.2f %13.2f %12.2f\n", "hw/nginx", "", "", "", (nper > 0 ? hper / nper : 0), (nhwm > 0 ? hhwm / nhwm : 0), (npss > 0 ? hpss / npss : 0)
}'
echo "(harness s: CPU of the ffmpeg publishers and the poller in the window. busy/other/steal%: the whole"
echo " machine in the window, % of all cores; other = busy time outside the server and the harness,"
echo " i.e. someone else's load. A run with other > ~5% was disturbed.)"
if [[ -n ${RESULTS:-} ]]; then
    ts=$(date -u +%FT%TZ)
    printf '%s\theadwater\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ts" "$hn" "$hmedia" "$hcpu" "$hhwm" "$hpss" "$hsegs" "$hother" "$hsteal" >>"$RESULTS"
    printf '%s\tnginx\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ts" "$nn" "$nmedia" "$ncpu" "$nhwm" "$npss" "$nsegs" "$nother" "$nsteal" >>"$RESULTS"
fi
if [[ $FAILURES -gt 0 ]]; then
    printf '\n!!!!!!!! %d CHECK(S) FAILED: the numbers above are not a valid comparison !!!!!!!!\n' "$FAILURES" >&2
    exit 1
fi
