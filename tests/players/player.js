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
    // Renditions the player reports as rendered, in order: { bitrate, width, at_s } where at_s
    // is seconds after start().
    rendered: [],
    switch_request: null, // what forceSwitch() asked for, and when
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

  function recordRendered(bitrate, width) {
    push(state.rendered, { bitrate, width, at_s: (now() - state.started_ms) / 1000 });
  }

  // The video renditions the player knows, as { bitrate, width, height }, in its own order.
  function renditions() {
    if (hls) return hls.levels.map((l) => ({ bitrate: l.bitrate, width: l.width, height: l.height }));
    if (dash) {
      return dash.getRepresentationsByType('video').map((r) => ({ bitrate: r.bandwidth, width: r.width, height: r.height }));
    }
    return [];
  }

  function currentRendition() {
    if (hls) return hls.currentLevel;
    if (dash) {
      const current = dash.getCurrentRepresentationForType('video');
      return current ? dash.getRepresentationsByType('video').findIndex((r) => r.id === current.id) : -1;
    }
    return -1;
  }

  // Turns adaptation off and switches to the video rendition other than the current one (the
  // lowest bitrate when the current one is not known); the player flushes what it buffered of
  // the old one. Returns what was asked.
  function forceSwitch() {
    const list = renditions();
    const from = currentRendition();
    let to = -1;
    list.forEach((r, i) => {
      if (i !== from && (to < 0 || r.bitrate < list[to].bitrate)) to = i;
    });
    const request = { from: list[from] || null, to: list[to] || null, at_s: (now() - state.started_ms) / 1000 };
    state.switch_request = request;
    if (to < 0) return request;
    if (hls) {
      hls.currentLevel = to; // immediate switch: flushes the buffer, manual level from now on
    } else if (dash) {
      dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
      dash.setRepresentationForTypeByIndex('video', to, true);
    }
    return request;
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
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const level = hls.levels[data.level];
      if (level) recordRendered(level.bitrate, level.width);
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
    dash.on(events.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType === 'video' && e.newRepresentation) {
        recordRendered(e.newRepresentation.bandwidth, e.newRepresentation.width);
      }
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
    forceSwitch,
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
        renditions: renditions(),
        rendered: state.rendered.slice(),
        switch_request: state.switch_request,
        ...videoInfo(video),
      };
    },
  };
})();
