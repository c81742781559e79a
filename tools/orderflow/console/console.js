// orderflow console: renders the snapshots the server streams (server-sent events), and sends
// the three actions with the session token. No framework, no build step.

const token = document.querySelector('meta[name="console-token"]').content;
const $ = (id) => document.getElementById(id);
const state = { snap: null, view: 'orders', orderId: null, order: null };

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const STATUSES = ['PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'CANCELLED'];
const statusBadge = (s) => `<span class="status ${STATUSES.includes(s) ? 's-' + s : 's-other'}">${esc(s)}</span>`;
const money = (m) => (m && typeof m.amount === 'number' ? `${(m.amount / 100).toFixed(2)} ${esc(m.currency)}` : '');
const time = (t) => (t ? new Date(t).toLocaleTimeString() : '');
const ago = (s) => (s == null ? '—' : s < 90 ? `${s} s` : `${Math.round(s / 60)} min`);

// Replaces a region only when its content changed, keeping the focus on the same control and
// the same bodies open.
function put(id, html) {
  const el = $(id);
  if (el.dataset.html === html) return;
  const focused = document.activeElement?.dataset?.key;
  const open = [...el.querySelectorAll('details[open]')].map((d) => d.dataset.key);
  el.innerHTML = html;
  el.dataset.html = html;
  for (const key of open) el.querySelector(`details[data-key="${CSS.escape(key)}"]`)?.setAttribute('open', '');
  if (focused) el.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
}

function say(text, error = false) {
  const r = $('action-result');
  r.textContent = text;
  r.classList.toggle('error', error);
}

async function action(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-console-token': token },
    body: JSON.stringify(body ?? {}),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.error || `HTTP ${response.status}`);
  return json;
}

// ---------------------------------------------------------------- views

function route() {
  const hash = location.hash.replace(/^#/, '') || 'orders';
  const [view, id] = hash.split('/');
  state.view = ['orders', 'order', 'pipeline', 'dlq', 'charts'].includes(view) ? view : 'orders';
  state.orderId = state.view === 'order' ? decodeURIComponent(id || '') : null;
  for (const section of document.querySelectorAll('.view')) {
    section.hidden = section.id !== `view-${state.view}`;
  }
  for (const a of document.querySelectorAll('nav a')) {
    const current = a.dataset.view === state.view || (state.view === 'order' && a.dataset.view === 'orders');
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  render();
  if (state.view === 'order') loadOrder();
}

function render() {
  const snap = state.snap;
  if (!snap) return;
  renderBadge(snap);
  if (state.view === 'orders') renderOrders(snap.orders);
  if (state.view === 'pipeline') renderPipeline(snap.pipeline);
  if (state.view === 'dlq') renderDlq(snap.pipeline);
  if (state.view === 'charts') renderCharts(snap);
}

function renderBadge(snap) {
  const depth = (snap.pipeline?.queues || []).filter((q) => q.kind === 'dlq')
    .reduce((n, q) => n + q.waiting + q.inFlight, 0);
  const badge = $('dlq-badge');
  badge.hidden = depth === 0;
  badge.textContent = depth;
}

function renderOrders(o) {
  if (!o || o.error) { put('orders-table', `<p class="empty">${esc(o?.error || 'no data yet')}</p>`); return; }
  put('order-counts', `<span class="chip">${o.total} orders</span>` + Object.entries(o.byStatus)
    .map(([s, n]) => `<span class="chip">${statusBadge(s)} ${n}</span>`).join(''));
  if (!o.orders.length) { put('orders-table', '<p class="empty">No orders yet: place one above.</p>'); return; }
  const rows = o.orders.map((r) => `<tr data-order-id="${esc(r.orderId)}">
      <td><a class="mono" data-key="o-${esc(r.orderId)}" href="#order/${encodeURIComponent(r.orderId)}">${esc(r.orderId.slice(0, 8))}…</a></td>
      <td class="status-cell">${statusBadge(r.status)}</td>
      <td class="num">${money(r.total)}</td>
      <td class="hide-narrow">${esc(r.customerId)}</td>
      <td class="hide-narrow">${esc(r.email)}</td>
      <td>${time(r.createdAt)}</td></tr>`).join('');
  put('orders-table', `<table><caption class="skip">Newest orders first (${o.orders.length} of ${o.total})</caption>
    <thead><tr><th scope="col">Order</th><th scope="col">Status</th><th scope="col" class="num">Total</th>
    <th scope="col" class="hide-narrow">Customer</th><th scope="col" class="hide-narrow">E-mail</th><th scope="col">Placed</th></tr></thead>
    <tbody>${rows}</tbody></table>`);
}

async function loadOrder() {
  const id = state.orderId;
  if (!id) return;
  try {
    const response = await fetch(`/api/orders/${encodeURIComponent(id)}`);
    const json = await response.json();
    if (id !== state.orderId) return;
    if (!response.ok) { put('order-detail', `<p class="empty">${esc(json.error)}</p>`); return; }
    renderOrder(json);
  } catch (e) {
    put('order-detail', `<p class="empty">${esc(e.message)}</p>`);
  }
}

function renderOrder({ order, timeline }) {
  $('h-order').textContent = `Order ${order.orderId}`;
  const lines = order.lines.map((l) => `${esc(l.quantity)} × ${esc(l.sku)} at ${money(l.unitPrice)}`).join('<br>');
  const history = order.history.map((h) => `<li>${statusBadge(h.status)} <span class="muted">${time(h.at)}</span></li>`).join('');
  let entries = '<p class="empty">No timeline: ' + esc(timeline?.unavailable || 'nothing recorded yet') + '</p>';
  if (timeline && timeline.entries) {
    entries = `<div class="table-wrap"><table><caption class="skip">Timeline, as orderflow trace prints it</caption>
      <thead><tr><th scope="col">At</th><th scope="col">Function</th><th scope="col">What</th>
      <th scope="col" class="num">ms</th><th scope="col">Reason</th></tr></thead><tbody>` +
      timeline.entries.map((e) => `<tr class="${entryFailed(e) ? 'failed' : ''}" data-kind="${esc(e.kind)}">
        <td class="mono">${esc(new Date(e.at).toISOString().slice(11, 23))}</td>
        <td>${esc(e.function)}</td><td class="k-${esc(e.kind)}">${describe(e)}</td>
        <td class="num">${e.durationMs ?? ''}</td><td>${esc(e.reason || '')}</td></tr>`).join('') +
      '</tbody></table></div>';
  }
  put('order-detail', `<div class="card"><dl class="kv">
      <dt>Status</dt><dd id="order-status">${statusBadge(order.status)}</dd>
      <dt>Total</dt><dd>${money(order.total)}</dd>
      <dt>Items</dt><dd>${lines}</dd>
      <dt>Customer</dt><dd>${esc(order.customerId)} · ${esc(order.email)}</dd>
      <dt>Payment</dt><dd class="mono">${esc(order.paymentToken)}</dd>
      <dt>Placed</dt><dd>${esc(order.createdAt)}</dd></dl>
      <h3>History</h3><ol class="history">${history}</ol></div>
    <h3>Timeline</h3>${entries}`);
}

function entryFailed(e) {
  return e.failed || e.kind === 'fault' || ['failed', 'error', 'timeout', 'crashed'].includes(e.outcome);
}

function describe(e) {
  switch (e.kind) {
    case 'delivery': return `delivery #${esc(e.receiveCount)} of ${esc(e.eventType || 'message')} from ${esc(e.queue)} — ${esc(e.outcome)}`;
    case 'invocation': return `invocation — ${esc(e.outcome)}`;
    case 'fault': return `fault: ${esc(e.fault)}`;
    case 'awsCall': return `${esc(e.service)} ${esc(e.operation)}${e.attempts > 1 ? ` (${esc(e.attempts)} attempts)` : ''}`;
    case 'record': return e.failed ? 'record failed' : 'record done';
    case 'log': return esc(e.message);
    default: return esc(e.kind);
  }
}

function renderPipeline(p) {
  if (!p || p.error) { put('pipeline-queues', `<p class="empty">${esc(p?.error || 'no data yet')}</p>`); return; }
  put('pipeline-functions', (p.functions || []).map((f) => `<div class="card fn" data-function="${esc(f.name)}">
      <h4>${esc(f.name)}</h4><div class="big">${f.inFlight}</div><div class="muted">invocations in flight</div>
      <div class="muted">${f.errors} failure${f.errors === 1 ? '' : 's'} recorded</div>
      ${f.recentErrors.map((r) => `<p class="err">${esc(r)}</p>`).join('')}</div>`).join('') ||
    '<p class="empty">No function processes here (a deployed stack runs its own).</p>');
  const rows = p.queues.map((q) => `<tr data-queue="${esc(q.name)}">
      <td>${esc(q.name)}</td><td>${esc(q.kind)}</td>
      <td class="num">${q.waiting}</td><td class="num">${q.inFlight}</td><td class="num">${q.delayed}</td>
      <td class="num">${ago(q.oldestSeconds)}</td>
      <td>${q.dlq ? `${esc(q.dlq)}: <strong>${q.dlqDepth ?? 0}</strong>` : ''}</td></tr>`).join('');
  put('pipeline-queues', `<table><caption class="skip">Every queue of the stack</caption>
    <thead><tr><th scope="col">Queue</th><th scope="col">Kind</th><th scope="col" class="num">Waiting</th>
    <th scope="col" class="num">In flight</th><th scope="col" class="num">Delayed</th><th scope="col" class="num">Oldest</th>
    <th scope="col">DLQ depth</th></tr></thead><tbody>${rows}</tbody></table>`);
}

function renderDlq(p) {
  if (!p || p.error) { put('dlq-list', `<p class="empty">${esc(p?.error || 'no data yet')}</p>`); return; }
  const dlqs = p.queues.filter((q) => q.kind === 'dlq');
  put('dlq-list', dlqs.map((q) => {
    const messages = p.deadLetters.filter((m) => m.queue === q.name);
    const depth = q.waiting + q.inFlight;
    const table = messages.length ? `<div class="table-wrap"><table><caption class="skip">Messages in ${esc(q.name)}</caption>
      <thead><tr><th scope="col">Message</th><th scope="col">Order</th><th scope="col" class="hide-narrow">Event</th>
      <th scope="col" class="num">Age</th><th scope="col" class="num">Receives</th><th scope="col">Reason and body</th></tr></thead><tbody>` +
      messages.map((m) => `<tr data-message-id="${esc(m.messageId)}" data-order-id="${esc(orderOf(m.body))}">
        <td class="mono">${esc(m.messageId.slice(0, 8))}…</td><td class="order">${orderLink(orderOf(m.body))}</td>
        <td class="hide-narrow">${esc(eventOf(m.body))}</td>
        <td class="num">${ago(m.ageSeconds)}</td><td class="num">${m.receiveCount}</td>
        <td><span class="reason">${esc(m.reason || '(no reason recorded)')}</span>
        <details class="body" data-key="b-${esc(m.messageId)}"><summary data-key="s-${esc(m.messageId)}">Body</summary><pre class="mono">${esc(pretty(m.body))}</pre></details></td></tr>`).join('') + '</tbody></table></div>'
      : '<p class="empty">Empty.</p>';
    return `<section class="card dlq" data-queue="${esc(q.name)}" aria-label="${esc(q.name)}">
      <div class="dlq-head"><h3>${esc(q.name)}</h3><span class="muted depth">${depth} message${depth === 1 ? '' : 's'}</span>
      <button type="button" class="redrive" data-key="r-${esc(q.name)}" data-queue="${esc(q.name)}" ${depth ? '' : 'disabled'}>Redrive ${esc(q.name)}</button></div>
      ${table}</section>`;
  }).join('') || '<p class="empty">No dead-letter queues.</p>');
}

// The order a dead letter is about: its event's order id (an EventBridge envelope, or the event
// alone), else its correlation id.
function orderOf(body) {
  try {
    const m = JSON.parse(body);
    const event = m.detail ?? m;
    return event?.data?.orderId ?? event?.metadata?.correlationId ?? '';
  } catch {
    return '';
  }
}

// The event a dead letter holds: its EventBridge detail-type or its envelope's type.
function eventOf(body) {
  try {
    const m = JSON.parse(body);
    return m['detail-type'] ?? m.metadata?.type ?? '';
  } catch {
    return '';
  }
}

function pretty(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch { return body; }
}

const orderLink = (id) => (id ? `<a class="mono" data-key="d-${esc(id)}" href="#order/${encodeURIComponent(id)}">${esc(id.slice(0, 8))}…</a>` : '—');

const W = 640, H = 200, PAD = 34;
function chart(samples, series) {
  if (samples.length < 2) return '<p class="empty">Collecting samples…</p>';
  const max = Math.max(1, ...series.flatMap((s) => samples.map(s.get).filter((v) => v != null)));
  const x = (i) => PAD + (i * (W - PAD - 8)) / (samples.length - 1);
  const y = (v) => H - 20 - (v * (H - 30)) / max;
  // The first series drawn last, on top; a lone point (a stage reached once) as a dot.
  const lines = series.map((s, k) => {
    const points = samples.map((p, i) => [i, s.get(p)]).filter(([, v]) => v != null)
      .map(([i, v]) => [x(i).toFixed(1), y(v).toFixed(1)]);
    const dots = points.length < 12 ? points.map(([px, py]) => `<circle class="c${k}" cx="${px}" cy="${py}" r="3"/>`).join('') : '';
    return points.length ? `<polyline class="c${k}" points="${points.map((p) => p.join(',')).join(' ')}"/>${dots}` : '';
  }).reverse().join('');
  const ticks = [0, max / 2, max].map((v) => `<text class="tick" x="2" y="${y(v) + 4}">${v < 10 ? v.toFixed(1) : Math.round(v)}</text>`).join('');
  const span = samples[samples.length - 1].at - samples[0].at;
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(series.map((s) => s.name).join(', '))} over the last ${span} s">
    <line class="axis" x1="${PAD}" y1="${H - 20}" x2="${W}" y2="${H - 20}"/><line class="axis" x1="${PAD}" y1="0" x2="${PAD}" y2="${H - 20}"/>
    ${ticks}<text class="tick" x="${PAD}" y="${H - 4}">−${span} s</text><text class="tick" x="${W - 30}" y="${H - 4}">now</text>${lines}</svg>
    <div class="legend">${series.map((s, k) => `<span class="c${k}">${esc(s.name)}</span>`).join('')}</div>`;
}

function renderCharts(snap) {
  if (!snap.hasMetrics) { put('chart-rates', '<p class="empty">No metrics here: a deployed stack keeps them in its own cloud.</p>'); return; }
  const samples = snap.charts?.samples || [];
  put('chart-rates', chart(samples, ['placed', 'confirmed', 'rejected', 'cancelled', 'refused']
    .map((k) => ({ name: k, get: (s) => s[k] }))));
  put('chart-latency', chart(samples, ['reserve', 'charge', 'release', 'notify']
    .map((k) => ({ name: k, get: (s) => s.latencyMs[k] }))));
}

// ---------------------------------------------------------------- actions and wiring

async function loadProducts() {
  try {
    const response = await fetch('/api/products');
    const json = await response.json();
    const options = (json.products || []).map((p) => `<option value="${esc(p.sku)}">${esc(p.name)} (${esc(p.sku)}, ${esc(p.stock)} left)</option>`).join('');
    $('sku').innerHTML = options;
    $('flash-sku').innerHTML = options;
    // A product in stock to start with.
    const inStock = (json.products || []).find((p) => p.stock > 0);
    if (inStock) { $('sku').value = inStock.sku; $('flash-sku').value = inStock.sku; }
  } catch (e) {
    say(`Cannot read the catalog: ${e.message}`, true);
  }
}

$('order-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const button = $('place-order');
  button.disabled = true;
  try {
    const answer = await action('/api/orders', {
      sku: form.get('sku'), quantity: Number(form.get('quantity')),
      email: form.get('email'), paymentToken: form.get('paymentToken'),
    });
    if (answer.status === 202) {
      say(`Order ${answer.body.orderId} accepted (202): ${answer.body.status}`);
      $('action-result').dataset.orderId = answer.body.orderId;
    } else {
      say(`Refused (${answer.status}): ${answer.body.detail || answer.body.title || JSON.stringify(answer.body)}`, true);
    }
  } catch (e) {
    say(e.message, true);
  } finally {
    button.disabled = false;
  }
});

$('flash-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const button = $('start-flash-sale');
  button.disabled = true;
  say(`Flash sale: ${form.get('buyers')} buyers of ${form.get('sku')}…`);
  try {
    const r = await action('/api/flash-sale', { sku: form.get('sku'), buyers: Number(form.get('buyers')) });
    say(`Flash sale: ${r.accepted} of ${r.buyers} orders accepted, ${r.refused} refused${r.failed.length ? `, ${r.failed.length} failed` : ''}`);
  } catch (e) {
    say(e.message, true);
  } finally {
    button.disabled = false;
  }
});

$('dlq-list').addEventListener('click', async (event) => {
  const button = event.target.closest('button.redrive');
  if (!button) return;
  button.disabled = true;
  try {
    const r = await action(`/api/dlqs/${encodeURIComponent(button.dataset.queue)}/redrive`);
    say(r.said);
  } catch (e) {
    say(e.message, true);
    button.disabled = false;
  }
});

function listen() {
  const live = new EventSource('/api/live');
  const status = $('live-status');
  live.addEventListener('open', () => { status.textContent = 'live'; status.className = 'live on'; });
  live.addEventListener('error', () => { status.textContent = 'reconnecting…'; status.className = 'live off'; });
  live.addEventListener('snapshot', (event) => {
    state.snap = JSON.parse(event.data);
    status.textContent = `live · ${new Date(state.snap.at).toLocaleTimeString()}`;
    render();
    if (state.view === 'order') loadOrder();
  });
}

window.addEventListener('hashchange', () => {
  route();
  $(`h-${state.view}`)?.focus();
});
loadProducts();
route();
listen();
