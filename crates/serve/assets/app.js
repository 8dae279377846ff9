// Aisle dashboard: one EventSource for live views, fetch() for the chosen forecast series.
// Charts are plain SVG drawn here; nothing is loaded from outside the server.
'use strict';

const token = new URLSearchParams(location.search).get('token');
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2ecc71', '#3498db', '#e67e22', '#9b59b6', '#f1c40f',
  '#1abc9c', '#e74c3c', '#ecf0f1', '#95a5a6', '#d35400'];
const $ = (id) => document.getElementById(id);

function url(path, params = {}) {
  const u = new URL(path, location.href);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  if (token) u.searchParams.set('token', token);
  return u.toString();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (n) => Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 });
const time = (ms) => new Date(ms).toISOString().slice(11, 19);

function fillTable(id, rows) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows);
}

// ---- Green Light Specials -------------------------------------------------------------
const seenWindow = {};
function renderSpecials(data) {
  const box = $('specials');
  if (!data.stores.length) return;
  box.replaceChildren(...data.stores.map((s) => {
    const c = s.current;
    const card = el('div', { class: 'special', 'data-store': s.store_id,
      'data-window-start': c.window_start, 'data-count': c.count },
      el('div', { class: 'store' }, `${s.store_id} · ${time(c.window_start)}–${time(c.window_end)} UTC`),
      el('div', { class: 'item' }, c.item),
      el('div', { class: 'upsell' }, 'upsell: ', el('b', {}, c.upsell_item)),
      el('div', { class: 'count' }, `carted ${c.count}× of ${c.total_items} items`),
      el('div', { class: 'reason' }, c.reason));
    if (seenWindow[s.store_id] !== undefined && seenWindow[s.store_id] !== c.window_start) {
      card.classList.add('fresh');
    }
    seenWindow[s.store_id] = c.window_start;
    return card;
  }));
}

// ---- Windows: horizontal bars, current vs previous ------------------------------------
function renderWindows(data) {
  const box = $('windows');
  if (!data.stores.length) return;
  box.replaceChildren(...data.stores.map((s) => {
    const cur = s.current, prev = s.previous || { items: [], unmatched: [] };
    const names = [...new Set([...cur.items.map((i) => i.item), ...prev.items.map((i) => i.item)])];
    const count = (w, n) => (w.items.find((i) => i.item === n) || { count: 0 }).count;
    const max = Math.max(1, ...names.map((n) => Math.max(count(cur, n), count(prev, n))));
    const rowH = 26, left = 110, width = 460;
    const g = svgEl('svg', { viewBox: `0 0 ${width} ${names.length * rowH + 4}`, role: 'img' });
    names.forEach((n, i) => {
      const y = i * rowH + 2, scale = (width - left - 40) / max;
      g.append(svgEl('text', { x: left - 6, y: y + 15, 'text-anchor': 'end' }, n));
      const c = count(cur, n), p = count(prev, n);
      g.append(svgEl('rect', { x: left, y, width: Math.max(1, c * scale), height: 11, fill: '#2ecc71' }));
      g.append(svgEl('rect', { x: left, y: y + 12, width: Math.max(1, p * scale), height: 9, fill: '#566573' }));
      g.append(svgEl('text', { x: left + c * scale + 4, y: y + 10 }, c));
    });
    const unmatched = (w, label) => w.unmatched.length
      ? el('div', { class: 'unmatched' }, `unmatched (${label}): `,
        w.unmatched.map((u) => `${u.item} ×${u.count}`).join(', '))
      : '';
    return el('div', { class: 'window-store' },
      el('h3', {}, `${s.store_id} · window ${time(cur.window_start)}–${time(cur.window_end)}`),
      el('div', { class: 'legend' }, el('span', {}, el('i', { style: 'background:#2ecc71' }), 'current'),
        el('span', {}, el('i', { style: 'background:#566573' }), 'previous')),
      el('div', { class: 'chart' }, g), unmatched(cur, 'current'), unmatched(prev, 'previous'));
  }));
}

// ---- Inventory --------------------------------------------------------------------------
let inventoryOffsets = null;
function renderInventory(data) {
  const before = inventoryOffsets;
  inventoryOffsets = {};
  fillTable('inventory', data.rows.map((r) => {
    inventoryOffsets[r.key] = r.offset;
    const tr = el('tr', { 'data-key': r.key }, el('td', {}, r.name ?? r.key), el('td', {}, r.upsell_item ?? ''),
      el('td', { class: 'num' }, r.count ?? ''), el('td', {}, new Date(r.modified).toISOString().slice(5, 16).replace('T', ' ')));
    if (before && before[r.key] !== r.offset) tr.className = 'changed';
    return tr;
  }));
}

// ---- Line charts ------------------------------------------------------------------------
// `bands` are shaded areas drawn behind the lines: { name, color, opacity, lo: [[x, y]], hi }.
function lineChart(lines, { xLabel = 'day', bands = [] } = {}) {
  const W = 900, H = 260, L = 56, R = 10, T = 10, B = 26;
  const pts = lines.flatMap((l) => l.points).concat(bands.flatMap((b) => b.hi));
  const g = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  if (!pts.length) return g;
  const x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(x0 + 1, ...pts.map((p) => p[0]));
  const y1 = Math.max(1, ...pts.map((p) => p[1]));
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = (y) => H - B - y / y1 * (H - T - B);
  g.append(svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }));
  g.append(svgEl('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
  for (const f of [0, 0.5, 1]) {
    g.append(svgEl('text', { x: L - 6, y: sy(y1 * f) + 4, 'text-anchor': 'end' }, fmt(y1 * f)));
  }
  g.append(svgEl('text', { x: L, y: H - 6 }, `${xLabel} ${x0}`));
  g.append(svgEl('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, `${xLabel} ${x1}`));
  for (const b of bands) {
    if (!b.lo.length) continue;
    const edge = b.hi.concat([...b.lo].reverse());
    g.append(svgEl('polygon', { class: 'band', 'data-band': b.name, fill: b.color,
      'fill-opacity': b.opacity, stroke: 'none',
      points: edge.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ') }));
  }
  for (const l of lines) {
    if (!l.points.length) continue;
    const d = l.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    g.append(svgEl('polyline', { points: d, fill: 'none', stroke: l.color, 'stroke-width': 2,
      'stroke-dasharray': l.dash ? '6 4' : 'none' }));
  }
  return g;
}

function legend(lines, bands = []) {
  return el('div', { class: 'legend' },
    ...lines.map((l) => el('span', {}, el('i', { style: `background:${l.color}` }), l.name)),
    ...bands.map((b) => el('span', {},
      el('i', { style: `background:${b.color};opacity:${Math.min(1, b.opacity * 2)}` }), b.name)));
}

// The forecast's quantile bands (schema v2 `quantiles`; none for v1 records): the central 95%
// (q 0.025..0.975) and 50% (q 0.25..0.75) intervals, as [[day, units]] edges.
function quantileBands(f) {
  const at = (q) => (f.quantiles || []).find((x) => Math.abs(x.q - q) < 1e-6);
  const band = (lo, hi, name, opacity) => {
    const a = at(lo), b = at(hi);
    if (!a || !b) return null;
    const edge = (x) => x.values.map((v, i) => [f.first_day + i, v]);
    return { name, color: '#2ecc71', opacity, lo: edge(a), hi: edge(b) };
  };
  return [band(0.025, 0.975, '95% interval', 0.15), band(0.25, 0.75, '50% interval', 0.3)]
    .filter(Boolean);
}

function renderSales(data) {
  if (!data.stores.length) return;
  const lines = data.stores.map((s, i) => ({
    name: s.store_id, color: COLORS[i % COLORS.length], points: s.points.map((p) => [p.day, p.units]),
  }));
  $('sales').replaceChildren(lineChart(lines), legend(lines));
  $('sales-note').textContent = `last day d_${data.last_day} · ${fmt(data.records)} records read`;
}

// ---- Forecasts --------------------------------------------------------------------------
let chosen = null;
async function getJson(path, params) {
  const r = await fetch(url(path, params));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function showSeries(id) {
  chosen = id;
  let s;
  try { s = await getJson(`api/forecasts/${encodeURIComponent(id)}`); } catch (e) {
    $('forecast').replaceChildren(el('p', { class: 'empty' }, `No data for ${id}.`));
    return;
  }
  const lines = [{ name: 'actual', color: '#ecf0f1', points: s.actual.map((a) => [a.day, a.sold]) }];
  let bands = [];
  if (s.forecast) {
    lines.push({ name: `forecast (${s.forecast.model})`, color: '#2ecc71', dash: true,
      points: s.forecast.forecast.map((v, i) => [s.forecast.first_day + i, v]) });
    bands = quantileBands(s.forecast);
  }
  const note = s.rmsse !== undefined ? `RMSSE ${fmt(s.rmsse)} over ${s.scored_days} days` : 'not scored yet';
  $('forecast').replaceChildren(lineChart(lines, { bands }), legend(lines, bands),
    el('p', { class: 'note' }, `${id} · ${note}`));
}

async function suggest(prefix) {
  try {
    const list = await getJson('api/forecasts', { q: prefix, limit: 30 });
    $('series-list').replaceChildren(...list.series.map((s) => el('option', { value: s })));
    return list.series;
  } catch (e) { return []; }
}

$('series-input').addEventListener('input', (e) => suggest(e.target.value));
$('series-input').addEventListener('change', (e) => e.target.value && showSeries(e.target.value));

async function renderForecasts(data) {
  $('forecast-count').textContent = `${fmt(data.count)} series forecast`;
  if (!chosen && data.count > 0) {
    // Start on a FOODS_3 series (M5's best sellers) when there is one: its chart says most.
    const first = (await suggest('FOODS_3_')).concat(await suggest(''));
    let pick = first[0];
    for (const id of first.slice(0, 12)) { // the first one that sold something lately
      const s = await getJson(`api/forecasts/${encodeURIComponent(id)}`).catch(() => null);
      if (s && s.actual.some((a) => a.sold > 0)) { pick = id; break; }
    }
    if (pick && !chosen) { $('series-input').value = pick; chosen = pick; }
  }
  if (chosen) showSeries(chosen);
  const s = data.scores;
  fillTable('scores', s.levels.map((l) => el('tr', {}, el('td', {}, l.level), el('td', {}, l.label),
    el('td', { class: 'num' }, l.series), el('td', { class: 'num' }, l.wrmsse === undefined ? '—' : fmt(l.wrmsse)))));
  $('scores-note').textContent = `${s.method}; ${s.scored_days} days scored` +
    (s.mean !== undefined ? `; mean of levels ${fmt(s.mean)}` : '');
}

// ---- Health -----------------------------------------------------------------------------
function renderHealth(h) {
  $('runtime').textContent = `${h.runtime} runtime · sampled ${time(h.sampled_at)} UTC`;
  fillTable('topics', h.topics.map((t) => el('tr', {}, el('td', {}, t.topic), el('td', {}, t.component ?? ''),
    el('td', { class: 'num' }, fmt(t.records)), el('td', { class: 'num' }, fmt(t.rate)))));
  fillTable('dlq', h.dlq.map((t) => el('tr', {}, el('td', {}, t.topic),
    el('td', { class: t.records > 0 ? 'num bad' : 'num' }, fmt(t.records)))));
  // One row per consumer and topic (partitions summed; the API has them one by one).
  const lag = new Map();
  for (const l of h.lag) {
    const k = `${l.group}\u0000${l.topic}`;
    const row = lag.get(k) || { group: l.group, topic: l.topic, parts: 0, lag: 0 };
    row.parts += 1; row.lag += l.lag;
    lag.set(k, row);
  }
  fillTable('lag', [...lag.values()].map((l) => el('tr', {}, el('td', {}, l.group),
    el('td', {}, `${l.topic} (${l.parts} partition${l.parts > 1 ? 's' : ''})`),
    el('td', { class: l.lag > 0 ? 'num bad' : 'num' }, fmt(l.lag)))));
  fillTable('errors', h.decode_errors.map((e) => el('tr', {}, el('td', {}, e.topic),
    el('td', { class: 'num bad' }, e.count), el('td', {}, e.last))));
}

// ---- Live updates -----------------------------------------------------------------------
const handlers = { specials: renderSpecials, windows: renderWindows, inventory: renderInventory,
  sales: renderSales, forecasts: renderForecasts, health: renderHealth };
const events = new EventSource(url('events'));
for (const [name, fn] of Object.entries(handlers)) {
  events.addEventListener(name, (e) => fn(JSON.parse(e.data)));
}
events.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn on'; };
events.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn off'; };
