// Plays live Headwater streams in headless Chromium with hls.js and dash.js, one format after
// another in one browser, and prints one JSON line per format on stdout (logs go to stderr).
//
//   node driver.mjs [--seconds 20] [--startup-timeout 20] [--switch-at 8] name=player=url...
//
// `player` is `hls.js`, `dash.js` or `dash.js+mss`. The page (player.html, player.js and the
// players' dist files from node_modules) is served by a static server on 127.0.0.1; the
// streams are fetched cross-origin from Headwater (which answers with CORS `*`).
// Run by tests/players.rs; see there for the assertions.

import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];
const CODECS = [
  'video/mp4; codecs="avc1.64000D"',
  'audio/mp4; codecs="mp4a.40.2"',
  'video/mp4; codecs="avc1.64000D,mp4a.40.2"',
];
const MAX_LOG = 30;

const log = (...args) => console.error('[players]', ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const opts = { seconds: 20, startupTimeout: 20, switchAt: 8, formats: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') opts.seconds = Number(argv[++i]);
    else if (a === '--startup-timeout') opts.startupTimeout = Number(argv[++i]);
    else if (a === '--switch-at') opts.switchAt = Number(argv[++i]);
    else {
      const first = a.indexOf('=');
      const second = a.indexOf('=', first + 1);
      if (first < 0 || second < 0) throw new Error(`expected name=player=url, got ${a}`);
      opts.formats.push({ name: a.slice(0, first), player: a.slice(first + 1, second), url: a.slice(second + 1) });
    }
  }
  if (!opts.formats.length) throw new Error('no formats given');
  return opts;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' };

// Serves files under ROOT (the page and node_modules) on an ephemeral loopback port.
function startStatic() {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(ROOT, path === '/' ? 'player.html' : path);
    if (!file.startsWith(ROOT + sep) || !TYPES[extname(file)]) {
      res.writeHead(404).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': TYPES[extname(file)], 'cache-control': 'no-store' });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function playOne(context, origin, format, opts) {
  const page = await context.newPage();
  const consoleErrors = [];
  const failedRequests = [];
  const httpErrors = [];
  let requests = 0;
  let switched = false; // set once forceSwitch() ran; later stream requests are kept
  const requestsAfterSwitch = [];
  const streamOrigin = new URL(format.url).origin;
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && consoleErrors.length < MAX_LOG) {
      const at = m.location()?.url;
      consoleErrors.push(`${m.type()}: ${m.text().slice(0, 500)}${at ? ` (${at})` : ''}`);
    }
  });
  page.on('pageerror', (e) => {
    if (consoleErrors.length < MAX_LOG) consoleErrors.push(`pageerror: ${String(e).slice(0, 500)}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(streamOrigin)) return;
    requests += 1;
    if (switched && requestsAfterSwitch.length < 100) requestsAfterSwitch.push(new URL(r.url()).pathname);
  });
  page.on('requestfailed', (r) => {
    if (failedRequests.length < MAX_LOG) failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && httpErrors.length < MAX_LOG) httpErrors.push(`${r.status()} ${r.url()}`);
  });

  const result = { format: format.name, player: format.player, url: format.url };
  try {
    await page.goto(`${origin}/player.html`, { waitUntil: 'load', timeout: 15000 });
    result.codecs = await page.evaluate((types) => Object.fromEntries(types.map((t) => [t, MediaSource.isTypeSupported(t)])), CODECS);
    result.h264_supported = result.codecs[CODECS[0]];
    result.user_agent = await page.evaluate(() => navigator.userAgent);
    await page.evaluate(([player, url]) => window.hw.start(player, url), [format.player, format.url]);
    const snap = () => page.evaluate(() => window.hw.snapshot());

    // Startup: until the first `playing`, a fatal error or the startup timeout.
    let s = await snap();
    const startupDeadline = Date.now() + opts.startupTimeout * 1000;
    while (!s.playing && !s.fatal_errors.length && Date.now() < startupDeadline) {
      await sleep(250);
      s = await snap();
    }
    // Playback window: `seconds` of wall time from the first `playing`, with a forced switch
    // to the other rendition `switchAt` seconds in.
    let advanced = 0;
    let wall = 0;
    if (s.playing) {
      const t0 = s.current_time;
      const w0 = Date.now();
      const end = w0 + opts.seconds * 1000;
      const switchAt = w0 + opts.switchAt * 1000;
      while (Date.now() < end) {
        const next = switched ? end : Math.min(end, switchAt);
        await sleep(Math.min(500, Math.max(0, next - Date.now())));
        if (!switched && Date.now() >= switchAt) {
          switched = true;
          result.switch_request = await page.evaluate(() => window.hw.forceSwitch());
          log(`${format.name}: forced switch ${JSON.stringify(result.switch_request)}`);
        }
        s = await snap();
        if (s.fatal_errors.length) break;
      }
      wall = (Date.now() - w0) / 1000;
      advanced = s.current_time - t0;
    }
    Object.assign(result, s, { wall_s: wall, advanced_s: advanced });
  } catch (e) {
    result.driver_error = String(e).slice(0, 1000);
  }
  Object.assign(result, { requests, requests_after_switch: requestsAfterSwitch, console_errors: consoleErrors, failed_requests: failedRequests, http_errors: httpErrors });
  await page.close().catch(() => {});
  return result;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // A hard stop for the whole run, whatever hangs.
  const budget = opts.formats.length * (opts.seconds + opts.startupTimeout + 20) + 30;
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${budget} s, exiting`);
    process.exit(3);
  }, budget * 1000);
  watchdog.unref();

  const statics = await startStatic();
  const origin = `http://127.0.0.1:${statics.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'headwater-chromium-'));
  const cleanup = () => {
    statics.close();
    rmSync(profile, { recursive: true, force: true });
  };
  process.on('SIGTERM', () => {
    log('SIGTERM');
    cleanup();
    process.exit(143);
  });
  try {
    // A persistent context gives Chromium our fresh, throwaway user-data-dir; each format
    // gets its own page.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
    log(`chromium ${CHROMIUM} started, page at ${origin}`);
    for (const format of opts.formats) {
      log(`playing ${format.name} with ${format.player}: ${format.url}`);
      const result = await playOne(context, origin, format, opts);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    await context.close();
  } finally {
    cleanup();
  }
  clearTimeout(watchdog);
}

main().then(
  () => process.exit(0),
  (e) => {
    log(String(e?.stack || e));
    process.exit(2);
  },
);
