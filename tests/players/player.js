// In-page half of the player test: starts hls.js or dash.js on the <video> and records what
// happened (attach, first playing, stalls, errors, frames); driver.mjs polls `hw.snapshot()`.
'use strict';

(function () {
  const MAX_SAMPLES = 20;
  const state = {
    player: null,
    url: null,
    started_ms: null,
    attached: false,
    playing_ms: null, // wall time from start() to the first `playing` event
    waiting_since: null, // performance.now() of an open stall
    stalls: [], // seconds of each stall after the first `playing`
    fatal: [], // fatal player errors (hls.js fatal ERROR, every dash.js `error`)
    nonfatal: 0,
    nonfatal_samples: [],
    media_error: null,
    frozen_since: null, // performance.now() since which currentTime has not moved
    max_frozen_s: 0,
    last_time: 0,
    info: {},
  };
  let hls = null;
  let dash = null;

  const now = () => performance.now();
  const push = (list, item) => {
    if (list.length < MAX_SAMPLES) list.push(item);
  };
  // A JSON-safe copy of an error object, without large or cyclic members.
  const plain = (value, depth = 0) => {
    if (value === null || value === undefined) return value;
    if (typeof value !== 'object') return typeof value === 'string' ? value.slice(0, 500) : value;
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (depth > 2) return '[…]';
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
    const out = Array.isArray(value) ? [] : {};
    for (const key of Object.keys(value).slice(0, 30)) {
      const v = value[key];
      if (typeof v === 'function' || key === 'frag' || key === 'part' || key === 'loader') continue;
      if (typeof Node !== 'undefined' && v instanceof Node) continue;
      try {
        out[key] = plain(v, depth + 1);
      } catch (e) {
        out[key] = String(e);
      }
    }
    return out;
  };

  function watchVideo(video) {
    video.addEventListener('playing', () => {
      if (state.playing_ms === null) state.playing_ms = now() - state.started_ms;
      if (state.waiting_since !== null) {
        state.stalls.push((now() - state.waiting_since) / 1000);
        state.waiting_since = null;
      }
    });
    video.addEventListener('waiting', () => {
      // Stalls count only after startup: the first `waiting` before `playing` is buffering.
      if (state.playing_ms !== null && state.waiting_since === null) state.waiting_since = now();
    });
    video.addEventListener('error', () => {
      const e = video.error;
      state.media_error = e ? { code: e.code, message: e.message } : 'unknown';
    });
    // Freeze detector independent of `waiting` events: the longest time currentTime stood
    // still after startup.
    setInterval(() => {
      if (state.playing_ms === null) return;
      const t = video.currentTime;
      if (t !== state.last_time) {
        state.last_time = t;
        state.frozen_since = null;
      } else if (state.frozen_since === null) {
        state.frozen_since = now();
      } else {
        state.max_frozen_s = Math.max(state.max_frozen_s, (now() - state.frozen_since) / 1000);
      }
    }, 100);
  }

  function startHls(video, url) {
    if (!Hls.isSupported()) {
      state.fatal.push({ player: 'hls.js', details: 'Hls.isSupported() is false' });
      return;
    }
    hls = new Hls({ enableWorker: true });
    state.info.version = Hls.version;
    hls.on(Hls.Events.MEDIA_ATTACHED, () => {
      state.attached = true;
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      state.info.levels = data.levels.map((l) => ({
        bitrate: l.bitrate,
        width: l.width,
        height: l.height,
        codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(','),
      }));
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      const summary = {
        type: data.type,
        details: data.details,
        fatal: data.fatal,
        reason: data.reason,
        error: data.error ? String(data.error) : undefined,
        url: data.url || (data.frag && data.frag.url) || (data.context && data.context.url),
        response: plain(data.response),
      };
      if (data.fatal) push(state.fatal, summary);
      else {
        state.nonfatal += 1;
        push(state.nonfatal_samples, summary);
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function startDash(video, url, mss) {
    if (mss && typeof dashjs.MssHandler !== 'function') {
      state.fatal.push({ player: 'dash.js', details: 'dash.mss.min.js did not register MssHandler' });
      return;
    }
    dash = dashjs.MediaPlayer().create();
    state.info.version = dash.getVersion();
    // Without a UTCTiming element in the manifest (MSS has none) dash.js asks its default time
    // source, https://time.akamai.com; point it at Headwater's /time instead (loopback only).
    dash.updateSettings({
      debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
      streaming: {
        utcSynchronization: {
          defaultTimingSource: { scheme: 'urn:mpeg:dash:utc:http-xsdate:2014', value: `${new URL(url).origin}/time` },
        },
      },
    });
    const events = dashjs.MediaPlayer.events;
    dash.on(events.STREAM_INITIALIZED, () => {
      state.attached = true;
    });
    dash.on(events.ERROR, (e) => {
      push(state.fatal, { type: 'error', error: plain(e.error) });
    });
    dash.on(events.PLAYBACK_ERROR, (e) => {
      push(state.fatal, { type: 'playbackError', error: plain(e.error) });
    });
    dash.initialize(video, url, true);
  }

  function videoInfo(video) {
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : {};
    const info = {
      current_time: video.currentTime,
      paused: video.paused,
      ready_state: video.readyState,
      video_width: video.videoWidth,
      video_height: video.videoHeight,
      total_frames: q.totalVideoFrames || 0,
      dropped_frames: q.droppedVideoFrames || 0,
      buffered_ahead_s: 0,
    };
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i)) {
        info.buffered_ahead_s = video.buffered.end(i) - video.currentTime;
      }
    }
    try {
      if (hls) {
        info.latency_s = hls.latency;
        info.level = hls.currentLevel;
      }
      // MSS carries no wall-clock anchor (dash.js takes its times as seconds since 1970), so
      // dash.js's live latency means nothing there.
      if (dash && state.player !== 'dash.js+mss') {
        info.latency_s = dash.getCurrentLiveLatency();
      }
      if (dash) info.is_dynamic = dash.isDynamic();
    } catch (e) {
      info.info_error = String(e);
    }
    return info;
  }

  window.hw = {
    start(player, url) {
      const video = document.getElementById('video');
      state.player = player;
      state.url = url;
      state.started_ms = now();
      watchVideo(video);
      if (player === 'hls.js') startHls(video, url);
      else if (player === 'dash.js') startDash(video, url, false);
      else if (player === 'dash.js+mss') startDash(video, url, true);
      else throw new Error(`unknown player ${player}`);
    },
    snapshot() {
      const video = document.getElementById('video');
      const stalls = state.stalls.slice();
      if (state.waiting_since !== null) stalls.push((now() - state.waiting_since) / 1000);
      const frozen =
        state.frozen_since === null ? state.max_frozen_s : Math.max(state.max_frozen_s, (now() - state.frozen_since) / 1000);
      return {
        attached: state.attached,
        playing: state.playing_ms !== null,
        startup_s: state.playing_ms === null ? null : state.playing_ms / 1000,
        stall_count: stalls.length,
        stall_total_s: stalls.reduce((a, b) => a + b, 0),
        stall_max_s: stalls.reduce((a, b) => Math.max(a, b), 0),
        stall_open: state.waiting_since !== null,
        max_frozen_s: frozen,
        fatal_errors: state.fatal.slice(),
        nonfatal_errors: state.nonfatal,
        nonfatal_samples: state.nonfatal_samples.slice(),
        media_error: state.media_error,
        player_version: state.info.version,
        levels: state.info.levels,
        ...videoInfo(video),
      };
    },
  };
})();
