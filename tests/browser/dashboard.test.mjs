// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) opens the Aisle
// dashboard, waits until a Green Light Special appears, saves a screenshot, stops the server and
// checks every special the page showed against `aisle topic dump green_light_specials`. When it
// seeds the topics itself it also writes a forecast with quantiles and checks that the forecast
// chart draws its 95% and 50% bands where the quantiles say.
//
// Environment:
//   AISLE_BIN            the aisle binary (default: ../../target/debug/aisle)
//   AISLE_BROWSER_START  shell command that starts the server; it must print a line containing
//                        "dashboard at http://..." (as `aisle serve` does) and use the data
//                        directory in $AISLE_DATA_DIR. Default: this script writes two stores'
//                        specials itself and runs `$AISLE_BIN serve --listen 127.0.0.1:0`.
//                        E.g. AISLE_BROWSER_START='"$AISLE_BIN" demo' once the demo serves.
//   AISLE_BROWSER_TIMEOUT_MS  how long to wait for a special (default 120000)
//   AISLE_BROWSER_SETTLE_MS   pause before the screenshot, for the other panels (default 1500)
//   AISLE_BROWSER_TOKEN  a serve token: passed to the server (AISLE_SERVE__TOKEN) and opened as
//                        /?token=TOKEN, so the page is shown to work behind a token
//   CHROMIUM             browser executable (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const bin = process.env.AISLE_BIN || join(repo, 'target/debug/aisle');
const timeout = Number(process.env.AISLE_BROWSER_TIMEOUT_MS || 120000);
const dataDir = mkdtempSync(join(tmpdir(), 'aisle-browser-'));
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const env = { ...process.env, AISLE_DATA_DIR: dataDir, AISLE_BIN: bin };
delete env.AISLE_KAFKA;
delete env.AISLE_REGISTRY;
delete env.AISLE_SERVE__TOKEN;
if (process.env.AISLE_BROWSER_TOKEN) env.AISLE_SERVE__TOKEN = process.env.AISLE_BROWSER_TOKEN;

function aisle(...args) {
  return execFileSync(bin, ['--data-dir', dataDir, ...args], { env, encoding: 'utf8' });
}

function seedSpecials() {
  aisle('topic', 'create', '--standard');
  const t0 = Date.UTC(2026, 10, 22, 9, 0, 0);
  const special = (store, start, item, upsell, count) => JSON.stringify({
    key: store,
    value: {
      store_id: store, window_start: start, window_end: start + 60000, item, upsell_item: upsell,
      count, reason: `most carted (${count}); upsell ${upsell} in stock`, total_items: count + 5,
      unmatched_items: 1,
    },
  });
  const lines = [
    special('CA_1', t0, 'bowl', 'cup', 5),
    special('TX_1', t0, 'tennis racket', 'tennis ball', 8),
    special('CA_1', t0 + 60000, 'cup', 'plate', 12),
  ].join('\n') + '\n';
  execFileSync(bin, ['--data-dir', dataDir, 'topic', 'produce', 'green_light_specials',
    '--schema', join(repo, 'schemas/green_light_special.avsc')], { env, input: lines });
}

// One series' sales d_1..d_10 and its forecast d_11..d_17 with the nine M5 quantiles.
const BAND = { q: [0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995],
  offset: [-4, -3, -2, -1, 0, 1, 2, 3, 4] };
function seedForecast() {
  const sales = Array.from({ length: 10 }, (_, i) => JSON.stringify({ key: 'FOODS_3_090_CA_1',
    value: { item_id: 'FOODS_3_090', dept_id: 'FOODS_3', cat_id: 'FOODS', store_id: 'CA_1',
      state_id: 'CA', day: i + 1, sold: 5 + (i % 3), sell_price: { float: 1.5 } } })).join('\n') + '\n';
  execFileSync(bin, ['--data-dir', dataDir, 'topic', 'produce', 'sales',
    '--schema', join(repo, 'schemas/sales_record.avsc')], { env, input: sales });
  const forecast = Array(7).fill(6);
  const quantiles = BAND.q.map((q, k) => ({ q, values: forecast.map((v) => v + BAND.offset[k]) }));
  const line = JSON.stringify({ key: 'FOODS_3_090_CA_1', value: { id: 'FOODS_3_090_CA_1',
    item_id: 'FOODS_3_090', store_id: 'CA_1', first_day: 11, forecast, model: 'browser-test',
    generated_at: 1, quantiles } }) + '\n';
  execFileSync(bin, ['--data-dir', dataDir, 'topic', 'produce', 'sales_forecasts',
    '--schema', join(repo, 'schemas/sales_forecast.avsc')], { env, input: line });
}

// The band polygons of the forecast chart, in chart coordinates (x right, y down).
async function bands(page) {
  return page.$$eval('#forecast svg polygon.band', (ps) => ps.map((p) => ({
    name: p.dataset.band,
    points: p.getAttribute('points').split(' ').map((xy) => xy.split(',').map(Number)),
  })));
}

function startServer() {
  const command = process.env.AISLE_BROWSER_START;
  const child = command
    ? spawn('bash', ['-c', command], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true })
    : spawn(bin, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'],
      { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const url = new Promise((ok, fail) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/dashboard at (http:\/\/\S+)/);
      if (m) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`server exited (${code}) before printing its URL:\n${seen}`)));
    setTimeout(() => fail(new Error(`no "dashboard at http://" line within ${timeout} ms`)), timeout);
  });
  return { child, url };
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((ok) => child.on('exit', ok));
  process.kill(-child.pid, 'SIGTERM'); // the whole process group (bash -c and its children)
  const killer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 15000);
  await exited;
  clearTimeout(killer);
}

let server;
let browser;
let failed = false;
try {
  if (!process.env.AISLE_BROWSER_START) {
    seedSpecials();
    seedForecast();
  }
  server = startServer();
  const url = await server.url + (process.env.AISLE_BROWSER_TOKEN
    ? `?token=${encodeURIComponent(process.env.AISLE_BROWSER_TOKEN)}` : '');
  console.log(`dashboard at ${url.replace(/token=[^&]*/, 'token=***')}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
  await page.goto(url);
  await page.locator('.special .item').first().waitFor({ timeout });
  await page.locator('#conn.on').waitFor({ timeout: 10000 });
  // Let the other panels render from their first events before the picture.
  await page.waitForTimeout(Number(process.env.AISLE_BROWSER_SETTLE_MS || 1500));
  const shown = await page.$$eval('.special', (cards) => cards.map((c) => ({
    store: c.dataset.store,
    window_start: Number(c.dataset.windowStart),
    item: c.querySelector('.item').textContent,
    upsell: c.querySelector('.upsell b').textContent,
    count: Number(c.dataset.count),
  })));
  let drawn = null;
  if (!process.env.AISLE_BROWSER_START) {
    await page.locator('#forecast svg polygon.band').first().waitFor({ timeout: 20000 });
    drawn = await bands(page);
  }
  const shot = join(artifacts, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  await browser.close();
  browser = null;
  await stop(server.child);

  // What the topic holds, read after the server let go of the data directory.
  const dumped = aisle('topic', 'dump', 'green_light_specials').trim().split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(shown.length > 0, 'no special on the page');
  if (!process.env.AISLE_BROWSER_START) {
    assert.deepEqual(shown.map((s) => s.store).sort(), ['CA_1', 'TX_1']);
  }
  for (const s of shown) {
    const rec = dumped.find((r) => r.key === s.store && r.value.window_start === s.window_start);
    assert.ok(rec, `page shows ${s.store} window ${s.window_start}; not in the topic`);
    assert.equal(s.item, rec.value.item, `${s.store} item`);
    assert.equal(s.upsell, rec.value.upsell_item, `${s.store} upsell`);
    assert.equal(s.count, rec.value.count, `${s.store} count`);
    // And it is the newest window of that store the topic had when the page was read.
    const newest = Math.max(...dumped.filter((r) => r.key === s.store).map((r) => r.value.window_start));
    if (!process.env.AISLE_BROWSER_START) assert.equal(s.window_start, newest, `${s.store} newest`);
    console.log(`ok: ${s.store} ${s.item} (upsell ${s.upsell}, ${s.count}x) matches the topic`);
  }
  if (drawn) {
    // Two bands, the 95% one first (behind), each 7 days of upper edge then 7 of lower edge.
    assert.deepEqual(drawn.map((b) => b.name), ['95% interval', '50% interval']);
    const height = (b) => b.points[0][1] - b.points[b.points.length - 1][1];
    for (const b of drawn) {
      assert.equal(b.points.length, 14, `${b.name}: ${b.points.length} points`);
      // SVG y grows downwards: the upper edge (q 0.975 / 0.75) is above the lower one.
      assert.ok(height(b) < 0, `${b.name} upside down: ${JSON.stringify(b.points)}`);
    }
    // Quantiles 6 +- 3 and 6 +- 1: the 95% band is three times as tall as the 50% one.
    const ratio = height(drawn[0]) / height(drawn[1]);
    assert.ok(Math.abs(ratio - 3) < 0.05, `band heights ratio ${ratio}`);
    console.log('ok: forecast chart draws the 95% and 50% quantile bands');
  }
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) await stop(server.child).catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
