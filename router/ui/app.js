// The ringfaas dashboard: plain ES modules, data from the router's own API and its event stream.
import { h, colourOf, fmtBytes, fmtMs, fmtAge, fmtPct, CONDITION_TEXT } from './dom.js';
import { drawRing } from './ring.js';
import { drawChart } from './charts.js';

const KEY_STORE = 'ringfaas.apiKey';
const SCOPES = ['invoke', 'deploy', 'admin'];
const state = { cluster: null, traffic: null, functions: [], selected: null, pinned: false, scope: 'invoke', auth: false, streamAbort: null };
const $ = (sel) => document.querySelector(sel);

// ---- API -------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function api(method, path, body, extra = {}) {
  const headers = { ...authHeaders(), ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (res.status === 401) {
    askKey('The key was refused.');
    throw new ApiError(401, 'RF_ROUTER_UNAUTHORIZED', 'an API key is required');
  }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? res.statusText);
  return { json, res };
}

const may = (scope) => SCOPES.indexOf(state.scope) >= SCOPES.indexOf(scope);

function applyScope() {
  for (const el of document.querySelectorAll('[data-needs]')) el.hidden = !may(el.dataset.needs);
  $('#who').textContent = state.auth ? `scope: ${state.scope}` : 'open (no API keys)';
  $('#key-button').hidden = !state.auth;
}

/** A 403 from the API: the key's scope is below what the action needs; hide what it cannot do. */
function forbidden(err) {
  if (err instanceof ApiError && err.status === 403) {
    const needs = /admin/.test(err.message) ? 'deploy' : 'invoke';
    if (SCOPES.indexOf(state.scope) > SCOPES.indexOf(needs)) state.scope = needs;
    applyScope();
  }
}

// ---- key and confirmation dialogs ------------------------------------------------------
function askKey(message = '') {
  const dialog = $('#key-dialog');
  $('#key-error').textContent = message;
  if (!dialog.open) dialog.showModal();
}

$('#key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = new FormData(e.target).get('key').trim();
  if (key === '') return;
  sessionStorage.setItem(KEY_STORE, key);
  $('#key-dialog').close();
  e.target.reset();
  await boot();
});
$('#key-button').addEventListener('click', () => askKey());

function confirmAction(title, text, okLabel) {
  const dialog = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dialog.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) => {
    const done = (answer) => {
      $('#confirm-form').onsubmit = null;
      $('#confirm-cancel').onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    $('#confirm-form').onsubmit = (e) => {
      e.preventDefault();
      done(true);
    };
    $('#confirm-cancel').onclick = () => done(false);
    dialog.onclose = () => done(false);
  });
}

// ---- views -----------------------------------------------------------------------------
const VIEWS = ['ring', 'workers', 'functions', 'traffic'];

function currentView() {
  const name = location.hash.replace(/^#\/?/, '');
  return VIEWS.includes(name) ? name : 'ring';
}

function showView() {
  const view = currentView();
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${view[0].toUpperCase()}${view.slice(1)} · ringfaas`;
  if (view === 'functions') void loadFunctions();
  render();
}
window.addEventListener('hashchange', () => {
  showView();
  $('#main').focus();
});

function render() {
  const view = currentView();
  if (view === 'ring') renderRing();
  else if (view === 'workers') renderWorkers();
  else if (view === 'functions') renderFunctions();
  else renderTraffic();
}

function functionName(id) {
  return state.cluster?.functions.find((f) => f.id === id)?.name ?? state.functions.find((f) => f.id === id)?.name ?? id;
}

function badge(condition) {
  return h('span', { class: `badge ${condition}` }, CONDITION_TEXT[condition] ?? condition);
}

function workerFigures(w) {
  const st = w.status;
  const warm = st ? st.functions.reduce((a, f) => a + f.idle + f.busy, 0) : null;
  return h(
    'dl',
    { class: 'figs' },
    h('dt', {}, 'State'), h('dd', {}, badge(w.condition)),
    h('dt', {}, 'Share'), h('dd', {}, fmtPct(w.share)),
    h('dt', {}, 'Address'), h('dd', { class: 'mono' }, w.address),
    h('dt', {}, 'Heartbeat'), h('dd', {}, `${fmtAge(w.heartbeatAgeMs)} ago`),
    h('dt', {}, 'Memory'), h('dd', {}, st ? `${st.reservedMb} / ${st.capacityMb} MB reserved` : `${w.capacityMb} MB (status unknown)`),
    h('dt', {}, 'In flight'), h('dd', {}, st ? String(st.inFlight) : '–'),
    h('dt', {}, 'Warm'), h('dd', {}, warm === null ? '–' : `${warm} containers`),
    h('dt', {}, 'Cold pool'), h('dd', {}, st?.coldPool ? `${st.coldPool.idle} idle of ${st.coldPool.target}` : '–'),
    h('dt', {}, 'Runtime'), h('dd', {}, st?.runtime ?? '–'),
  );
}

function tile(label, value) {
  return h('div', { class: 'tile' }, h('div', { class: 'v' }, value), h('div', { class: 'l' }, label));
}

function lastPoint(series) {
  return series?.[series.length - 1];
}

function renderRing() {
  const c = state.cluster;
  if (c === null) return;
  const total = state.traffic?.routers.reduce((a, r) => a + r.rate, 0) ?? 0;
  const p99 = lastPoint(state.traffic?.total)?.p99Ms ?? null;
  $('#tiles').replaceChildren(
    tile('workers on the ring', String(c.workers.filter((w) => w.inRing).length)),
    tile('not on the ring', String(c.workers.filter((w) => !w.inRing || w.condition !== 'active').length)),
    tile('functions', String(c.functionsTotal)),
    tile('invocations/s (1 min, all routers)', total.toFixed(total < 10 ? 2 : 0)),
    tile('p99 latency (last 2 s)', fmtMs(p99)),
    tile('spill edges (1 min)', String(c.spills.length)),
  );
  drawRing($('#ring'), c, state.selected, select);
  const ids = c.workers.map((w) => w.id);
  $('#legend').replaceChildren(
    ...c.workers.map((w) =>
      h('li', {}, h('button', { type: 'button', 'aria-pressed': w.id === state.selected ? 'true' : 'false', onclick: () => select(w.id, true), 'data-worker': w.id },
        h('span', { class: 'swatch', style: undefined, 'data-colour': colourOf(ids, w.id) }), h('span', {}, w.id), badge(w.condition), h('span', { class: 'share' }, fmtPct(w.share)))),
    ),
  );
  // Colours through the CSSOM (allowed by the CSP, unlike style attributes).
  for (const sw of document.querySelectorAll('#legend .swatch')) sw.style.background = sw.dataset.colour;
  const w = c.workers.find((x) => x.id === state.selected);
  $('#selected').replaceChildren(w === undefined ? h('p', { class: 'muted' }, 'Hover, focus or select a worker on the ring.') : h('div', {}, h('h3', {}, w.id), workerFigures(w)));
}

function select(id, pin) {
  if (pin) state.pinned = state.selected === id && state.pinned ? false : true;
  else if (state.pinned) return;
  if (state.selected === id && !pin) return;
  state.selected = id;
  const focused = document.activeElement?.dataset?.workerId;
  renderRing();
  if (focused) document.querySelector(`[data-worker-id="${CSS.escape(focused)}"]`)?.focus();
}

function renderWorkers() {
  const c = state.cluster;
  if (c === null) return;
  const ids = c.workers.map((w) => w.id);
  $('#workers').replaceChildren(
    ...c.workers.map((w) => {
      const st = w.status;
      const used = st ? Math.min(1, st.reservedMb / Math.max(1, st.capacityMb)) : 0;
      const bar = h('div', { class: 'bar', role: 'img', 'aria-label': st ? `${st.reservedMb} of ${st.capacityMb} MB reserved` : 'memory unknown' }, h('span', {}));
      bar.firstChild.style.width = `${(used * 100).toFixed(1)}%`;
      bar.firstChild.style.background = colourOf(ids, w.id);
      const rows = (st?.functions ?? []).map((f) =>
        h('tr', {}, h('td', {}, functionName(f.functionId), h('div', { class: 'sub mono' }, f.functionId)), h('td', {}, `v${f.version}`), h('td', {}, String(f.idle)), h('td', {}, String(f.busy))),
      );
      return h(
        'article',
        { class: 'panel card', 'data-worker-card': w.id },
        h('h2', {}, h('span', { class: 'swatch', 'data-colour': colourOf(ids, w.id) }), w.id, badge(w.condition)),
        bar,
        workerFigures(w),
        w.statusError ? h('p', { class: 'error' }, `Status: ${w.statusError}`) : null,
        h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'sr-only' }, `Containers on ${w.id}`), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Function'), h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'Idle'), h('th', { scope: 'col' }, 'Busy'))),
          h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No warm containers'))))),
        h('div', { class: 'actions', 'data-needs': 'admin', hidden: !may('admin') }, h('button', { type: 'button', class: 'danger', onclick: () => removeWorker(w.id) }, `Drain and remove ${w.id}`)),
      );
    }),
  );
  for (const sw of document.querySelectorAll('#workers .swatch')) sw.style.background = sw.dataset.colour;
}

async function removeWorker(id) {
  if (!(await confirmAction(`Drain and remove ${id}?`, `New invocations go to other workers at once; running ones finish; then ${id} leaves the ring. A worker process stays stopped until restarted.`, 'Drain and remove'))) return;
  try {
    const { json } = await api('DELETE', `/workers/${encodeURIComponent(id)}`);
    flash(`${id} removed (${json.drained ? 'drained' : 'not fully drained'} in ${fmtMs(json.waitedMs)})`);
  } catch (err) {
    forbidden(err);
    flash(`Could not remove ${id}: ${err.message}`, true);
  }
}

function flash(text, bad = false) {
  const live = $('#live');
  live.textContent = text;
  live.className = `live ${bad ? 'off' : 'on'}`;
}

// ---- functions -------------------------------------------------------------------------
async function loadFunctions() {
  try {
    const { json } = await api('GET', '/functions');
    state.functions = json.sort((a, b) => a.name.localeCompare(b.name));
    renderFunctions();
  } catch (err) {
    forbidden(err);
  }
}

function homeOf(id) {
  return state.cluster?.functions.find((f) => f.id === id)?.home ?? '–';
}

function renderFunctions() {
  const tbody = $('#functions-table tbody');
  tbody.replaceChildren(
    ...(state.functions.length === 0
      ? [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No function yet: deploy one below.'))]
      : state.functions.map((f) =>
          h('tr', { 'data-function': f.id },
            h('td', {}, h('strong', {}, f.name), h('div', { class: 'sub mono' }, f.id)),
            h('td', {}, `v${f.version}`),
            h('td', { class: 'hide-narrow' }, `${f.memorySize} MB`),
            h('td', { class: 'hide-narrow' }, fmtBytes(f.codeSize)),
            h('td', { class: 'hide-narrow' }, homeOf(f.id)),
            h('td', { class: 'hide-narrow' }, new Date(f.updatedAt).toLocaleString()),
            h('td', { class: 'acts' },
              h('button', { type: 'button', class: 'small', onclick: () => pickInvoke(f.id) }, 'Invoke'), ' ',
              may('deploy') ? h('button', { type: 'button', class: 'small', onclick: () => editFunction(f) }, 'Update') : null, ' ',
              may('deploy') ? h('button', { type: 'button', class: 'small danger', onclick: () => deleteFunction(f) }, 'Delete') : null),
          ),
        )),
  );
  const select = $('#invoke-fn');
  const chosen = select.value;
  select.replaceChildren(...state.functions.map((f) => h('option', { value: f.id }, `${f.name} (${f.id})`)));
  if (state.functions.some((f) => f.id === chosen)) select.value = chosen;
}

function pickInvoke(id) {
  $('#invoke-fn').value = id;
  $('#invoke-form textarea').focus();
}

function editFunction(f) {
  const form = $('#deploy-form');
  form.elements.id.value = f.id;
  form.elements.name.value = f.name;
  form.elements.memorySize.value = String(f.memorySize);
  form.elements.timeoutMs.value = String(f.timeoutMs);
  $('#deploy-title').textContent = `Update ${f.name}`;
  $('#deploy-submit').textContent = 'Update';
  form.elements.code.focus();
}

function resetDeploy() {
  const form = $('#deploy-form');
  form.elements.id.value = '';
  $('#deploy-title').textContent = 'Deploy a function';
  $('#deploy-submit').textContent = 'Deploy';
  $('#deploy-result').textContent = '';
}
$('#deploy-reset').addEventListener('click', resetDeploy);

for (const radio of document.querySelectorAll('#deploy-form [name=source]')) {
  radio.addEventListener('change', () => {
    const file = $('#deploy-form').elements.source.value === 'file';
    $('#file-label').hidden = !file;
    $('#code-label').hidden = file;
  });
}

function base64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

async function deployBody(form) {
  const body = { name: form.elements.name.value.trim(), memorySize: Number(form.elements.memorySize.value) };
  const timeout = Number(form.elements.timeoutMs.value);
  if (Number.isInteger(timeout) && timeout > 0) body.timeoutMs = timeout;
  if (form.elements.source.value === 'file') {
    const file = form.elements.file.files[0];
    if (file === undefined) throw new Error('choose a .js or .zip file');
    if (file.name.endsWith('.zip')) body.zipFile = base64(new Uint8Array(await file.arrayBuffer()));
    else body.code = await file.text();
  } else {
    body.code = form.elements.code.value;
  }
  return body;
}

$('#deploy-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const out = $('#deploy-result');
  const id = form.elements.id.value;
  out.className = 'result';
  out.textContent = id ? 'Updating…' : 'Deploying…';
  try {
    const body = await deployBody(form);
    const { json } = id ? await api('PUT', `/functions/${encodeURIComponent(id)}`, body) : await api('POST', '/functions', body);
    // The list and the invoke form are brought up to date before the result is shown, so that
    // "Invoke" right after the message calls the function just deployed, not the one selected before.
    await loadFunctions();
    if (!state.functions.some((f) => f.id === json.id)) {
      state.functions = [...state.functions, json].sort((a, b) => a.name.localeCompare(b.name));
      renderFunctions();
    }
    $('#invoke-fn').value = json.id;
    out.className = 'result okay';
    out.textContent = `${json.name} is at version ${json.version} (${json.id}, ${fmtBytes(json.codeSize)}).`;
  } catch (err) {
    forbidden(err);
    out.className = 'result error';
    out.textContent = `${err.code ?? 'Error'}: ${err.message}`;
  }
});

async function deleteFunction(f) {
  if (!(await confirmAction(`Delete ${f.name}?`, `The function ${f.name} (${f.id}), its code and its containers are removed. This cannot be undone.`, 'Delete'))) return;
  try {
    await api('DELETE', `/functions/${encodeURIComponent(f.id)}`);
    flash(`${f.name} deleted`);
    await loadFunctions();
  } catch (err) {
    forbidden(err);
    flash(`Could not delete ${f.name}: ${err.message}`, true);
  }
}

$('#invoke-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const out = $('#invoke-result');
  const id = form.elements.fn.value;
  if (!id) return;
  let input;
  try {
    input = JSON.parse(form.elements.input.value || '{}');
  } catch (err) {
    out.replaceChildren(h('p', { class: 'error' }, `The input is not JSON: ${err.message}`));
    return;
  }
  out.replaceChildren(h('p', { class: 'muted' }, 'Invoking…'));
  const started = performance.now();
  try {
    const { json, res } = await api('POST', `/functions/${encodeURIComponent(id)}/invoke`, input, { 'x-ringfaas-details': '1' });
    const latency = performance.now() - started;
    const logs = json.logs ?? {};
    out.replaceChildren(
      h('dl', { class: 'figs' },
        h('dt', {}, 'Worker'), h('dd', { 'data-out': 'worker' }, res.headers.get('x-ringfaas-worker') ?? logs.workerId ?? '–'),
        h('dt', {}, 'Start'), h('dd', { 'data-out': 'start' }, res.headers.get('x-ringfaas-start') ?? logs.start ?? '–'),
        h('dt', {}, 'Latency'), h('dd', {}, `${fmtMs(latency)} (function ${fmtMs(logs.functionMs)})`),
        h('dt', {}, 'Spills'), h('dd', {}, res.headers.get('x-ringfaas-spills') ?? '0'),
        h('dt', {}, 'Version'), h('dd', {}, logs.version === undefined ? '–' : `v${logs.version}`)),
      h('h3', {}, 'Output'),
      h('pre', { 'data-out': 'output' }, JSON.stringify(json.output, null, 2)),
      h('h3', {}, 'Logs'),
      h('pre', { 'data-out': 'logs' }, (logs.lines ?? []).join('\n') || '(none)'),
    );
  } catch (err) {
    forbidden(err);
    out.replaceChildren(h('p', { class: 'error', 'data-out': 'error' }, `${err.code ?? 'Error'}: ${err.message}`));
  }
});

// ---- traffic ---------------------------------------------------------------------------
const LOCAL = '#58a6ff';
const TOTAL = '#f0b44c';
const CHARTS = [
  { key: 'rate', title: 'Invocations / s', unit: '', fmt: (v) => (v ?? 0).toFixed(1) },
  { key: 'latency', title: 'Latency p50 / p99', unit: ' ms', fmt: (v) => fmtMs(v) },
  { key: 'cold', title: 'Cold starts', unit: '', fmt: (v) => String(v ?? 0) },
  { key: 'spills', title: 'Spills', unit: '', fmt: (v) => String(v ?? 0) },
];

function renderTraffic() {
  const t = state.traffic;
  if (t === null) return;
  const box = $('#charts');
  if (box.children.length === 0) {
    for (const c of CHARTS) box.append(h('section', { class: 'panel chart', 'data-chart': c.key }, h('h2', {}, c.title, h('span', { class: 'now' }, '')), h('div', { class: 'plot' })));
  }
  const times = t.total.map((p) => p.t);
  for (const c of CHARTS) {
    const panel = box.querySelector(`[data-chart=${c.key}]`);
    let series;
    let now;
    if (c.key === 'latency') {
      series = [
        { colour: TOTAL, values: t.total.map((p) => p.p50Ms) },
        { colour: '#ff7b72', values: t.total.map((p) => p.p99Ms) },
        { colour: LOCAL, values: t.local.map((p) => p.p50Ms), dash: '5 4' },
      ];
      const last = [...t.total].reverse().find((p) => p.p99Ms !== null);
      now = last ? `${fmtMs(last.p50Ms)} / ${fmtMs(last.p99Ms)}` : '–';
    } else {
      // All routers first, this router dashed on top: both show where they coincide.
      series = [
        { colour: TOTAL, values: t.total.map((p) => p[c.key]) },
        { colour: LOCAL, values: t.local.map((p) => p[c.key]), dash: '5 4' },
      ];
      now = c.fmt(lastPoint(t.total)?.[c.key]);
    }
    panel.querySelector('.now').textContent = now;
    drawChart(panel.querySelector('.plot'), { times, series, unit: c.unit, label: `${c.title} over the last 5 minutes: this router and all routers` });
  }
  $('#routers-table tbody').replaceChildren(
    ...t.routers.map((r) =>
      h('tr', {}, h('td', {}, r.id, r.self ? h('span', { class: 'sub' }, ' (this page)') : null), h('td', {}, r.rate.toFixed(2)), h('td', {}, fmtMs(r.p50Ms)), h('td', {}, fmtMs(r.p99Ms)), h('td', {}, String(r.cold)), h('td', {}, String(r.spills)), h('td', {}, String(r.errors)), h('td', {}, `${fmtAge(t.at - r.updatedAt)} ago`)),
    ),
  );
}

// ---- the event stream (fetch, so that the key goes in a header, not the URL) -----------
async function stream() {
  state.streamAbort?.abort();
  const abort = new AbortController();
  state.streamAbort = abort;
  while (!abort.signal.aborted) {
    try {
      const res = await fetch('/ui/events', { headers: authHeaders(), signal: abort.signal });
      if (res.status === 401) {
        askKey('The key was refused.');
        return;
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      flash('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          onEvent(block);
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return;
    }
    flash('reconnecting…', true);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

function onEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  const body = JSON.parse(data.join('\n'));
  if (name === 'cluster') {
    state.cluster = body;
    document.body.dataset.clusterAt = String(body.at);
  } else if (name === 'traffic') state.traffic = body;
  else return;
  const view = currentView();
  if (name === 'cluster' && view !== 'traffic') render();
  if (name === 'traffic' && (view === 'traffic' || view === 'ring')) render();
}

async function boot() {
  try {
    const { json } = await api('GET', '/auth/whoami');
    state.auth = json.auth;
    state.scope = SCOPES.includes(json.scope) ? json.scope : 'invoke';
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // the key dialog is open
    flash(`The router did not answer: ${err.message}`, true);
    return;
  }
  applyScope();
  showView();
  void stream();
}

showView();
void boot();
