/*
 * The analysts' dashboard: reads /v1/exposures/stats (per hour, top messages, top categories)
 * with the analyst's token and draws it; the funnel and lifecycle panels are funnel.js's. Plain browser JavaScript, no dependencies. Every value
 * from the API goes into the page through textContent or an SVG attribute, never as markup.
 * The numbers carry data-testid and data-* attributes so the browser test can read them.
 */
'use strict';

(function () {
  const TOKEN_KEY = 'herald.dashboard.token';
  const TOP_LIMIT = 10;
  /** The API's largest stats page; more hours than this and the chart says so. */
  const HOUR_LIMIT = 10000;
  const HOUR_MS = 3600 * 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  const form = $('query');
  const tokenInput = $('token');
  const fromInput = $('from');
  const toInput = $('to');
  const messageInput = $('message');
  const loadButton = $('load');
  const errorBox = $('error');
  const results = $('results');

  /** Bumped per load, so an older response that arrives late is ignored. */
  let generation = 0;

  class ApiError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  tokenInput.value = initialToken();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });
  if (tokenInput.value) void load();

  /** The token from `#token=…` (then dropped from the address bar and kept), else the kept one. */
  function initialToken() {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
    if (fromHash) {
      history.replaceState(null, '', location.pathname + location.search);
      keepToken(fromHash);
      return fromHash;
    }
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return ''; // storage disabled: the analyst pastes the token each time
    }
  }

  function keepToken(token) {
    try {
      localStorage.setItem(TOKEN_KEY, token);
    } catch {
      // storage disabled: nothing to keep it in, the field still holds it
    }
  }

  async function load() {
    const token = tokenInput.value.trim();
    if (!token) {
      showError(new ApiError('MISSING_TOKEN', 'Paste a token with scope exposures:read.'));
      return;
    }
    keepToken(token);
    const mine = ++generation;
    hideError();
    results.dataset.state = 'loading';
    loadButton.disabled = true;
    try {
      const range = timeWindow();
      const [hours, messages, categories, funnel] = await Promise.all([
        stats(token, { groupBy: 'hour', limit: HOUR_LIMIT, ...range }),
        stats(token, { groupBy: 'message', limit: TOP_LIMIT, ...range }),
        stats(token, { groupBy: 'category', limit: TOP_LIMIT, ...range }),
        window.HeraldFunnel.load((path, query) => getJson(token, path, query), range, messageInput.value.trim()),
      ]);
      if (mine !== generation) return;
      render(range, hours, messages, categories);
      window.HeraldFunnel.render(funnel);
      results.hidden = false;
      results.dataset.state = 'ready';
    } catch (err) {
      if (mine !== generation) return;
      results.hidden = true;
      results.dataset.state = 'error';
      showError(err);
    } finally {
      if (mine === generation) loadButton.disabled = false;
    }
  }

  /** The from/to inputs (local time) as UTC ISO strings; empty inputs are left out. */
  function timeWindow() {
    const range = {};
    for (const [name, input] of [['from', fromInput], ['to', toInput]]) {
      if (!input.value) continue;
      const time = new Date(input.value);
      if (Number.isNaN(time.getTime())) throw new ApiError('INVALID_QUERY', `${name} is not a date and time.`);
      range[name] = time.toISOString();
    }
    return range;
  }

  async function stats(token, query) {
    const body = await getJson(token, '/v1/exposures/stats', query);
    if (!Array.isArray(body.items)) throw new ApiError('BAD_RESPONSE', 'The API answered without items.');
    return body.items;
  }

  /** One API read with the analyst's token; an error answer becomes an ApiError with its code. */
  async function getJson(token, path, query) {
    const url = `${path}?${new URLSearchParams(query)}`;
    let response;
    try {
      response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, cache: 'no-store' });
    } catch (err) {
      throw new ApiError('NETWORK', `The exposure-consumer did not answer (${err.message}).`);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body && body.error ? body.error : {};
      throw new ApiError(error.code || `HTTP_${response.status}`, error.message || `The API answered ${response.status}.`);
    }
    if (!body) throw new ApiError('BAD_RESPONSE', 'The API answered without a JSON body.');
    return body;
  }

  function render(range, hours, messages, categories) {
    const total = hours.reduce((sum, h) => sum + h.exposures, 0);
    setNumber($('total-exposures'), total);
    setNumber($('hours-with-data'), hours.length);
    $('window').textContent = describeWindow(range);

    const note = $('hours-note');
    note.hidden = hours.length < HOUR_LIMIT;
    note.textContent = note.hidden ? '' : `Only the first ${HOUR_LIMIT.toLocaleString()} hours with data are counted; narrow the window.`;

    drawHours($('hours-chart'), hours);
    fillTop($('top-messages'), messages, 'top-message-row', (key) => key);
    fillTop($('top-categories'), categories, 'top-category-row', (key) => (key === null ? '(direct)' : key));
  }

  function setNumber(element, value) {
    element.textContent = value.toLocaleString();
    element.dataset.value = String(value);
  }

  function describeWindow({ from, to }) {
    if (!from && !to) return 'all time';
    const show = (iso) => new Date(iso).toLocaleString();
    if (!to) return `from ${show(from)}`;
    if (!from) return `before ${show(to)}`;
    return `${show(from)} – ${show(to)}`;
  }

  /** Bars on a true time axis (one slot per hour from the first to the last), so gaps show. */
  function drawHours(container, hours) {
    container.replaceChildren();
    if (hours.length === 0) {
      container.append(emptyNote('No exposures in this window.'));
      return;
    }
    const W = 960;
    const H = 260;
    const m = { top: 12, right: 12, bottom: 30, left: 52 };
    const plotW = W - m.left - m.right;
    const plotH = H - m.top - m.bottom;
    const first = Date.parse(hours[0].key);
    const last = Date.parse(hours[hours.length - 1].key);
    const slots = Math.round((last - first) / HOUR_MS) + 1;
    const slotW = plotW / slots;
    const top = niceCeiling(Math.max(...hours.map((h) => h.exposures)));

    const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Exposures per hour' });
    const y = (value) => m.top + plotH - (value / top) * plotH;

    for (let i = 0; i <= 4; i += 1) {
      const value = (top * i) / 4;
      svg.append(svgEl('line', { class: 'grid', x1: m.left, x2: W - m.right, y1: y(value), y2: y(value) }));
      const label = svgEl('text', { class: 'axis', x: m.left - 8, y: y(value) + 4, 'text-anchor': 'end' });
      label.textContent = formatTick(value);
      svg.append(label);
    }

    // Bars fill most of their slot, up to a width that still reads as a bar when hours are few.
    const barW = Math.max(Math.min(slotW * 0.8, 56), 1);
    for (const hour of hours) {
      const slot = Math.round((Date.parse(hour.key) - first) / HOUR_MS);
      const bar = svgEl('rect', {
        class: 'bar',
        x: m.left + (slot + 0.5) * slotW - barW / 2,
        y: y(hour.exposures),
        width: barW,
        height: Math.max(m.top + plotH - y(hour.exposures), 1),
        'data-testid': 'hour-bar',
        'data-hour': hour.key,
        'data-exposures': hour.exposures,
        'data-users': hour.users,
      });
      const title = svgEl('title', {});
      title.textContent = `${hourLabel(hour.key, true)} UTC: ${hour.exposures.toLocaleString()} exposures, ${hour.users.toLocaleString()} users`;
      bar.append(title);
      svg.append(bar);
    }

    const sameDay = hours[0].key.slice(0, 10) === hours[hours.length - 1].key.slice(0, 10);
    const every = Math.max(1, Math.ceil(slots / 8));
    for (let slot = 0; slot < slots; slot += every) {
      const label = svgEl('text', { class: 'axis', x: m.left + (slot + 0.5) * slotW, y: H - 10, 'text-anchor': 'middle' });
      label.textContent = hourLabel(new Date(first + slot * HOUR_MS).toISOString(), !sameDay);
      svg.append(label);
    }
    svg.append(svgEl('line', { class: 'baseline', x1: m.left, x2: W - m.right, y1: y(0), y2: y(0) }));
    container.append(svg);
  }

  /** One row per group: key, exposures, users and a bar relative to the first (largest) row. */
  function fillTop(tbody, items, testId, label) {
    tbody.replaceChildren();
    if (items.length === 0) {
      const row = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 4;
      td.append(emptyNote('No exposures in this window.'));
      row.append(td);
      tbody.append(row);
      return;
    }
    const largest = Math.max(...items.map((item) => item.exposures));
    for (const item of items) {
      const row = document.createElement('tr');
      row.dataset.testid = testId;
      if (item.key !== null) row.dataset.key = item.key;
      row.dataset.exposures = String(item.exposures);
      row.dataset.users = String(item.users);

      const name = cell('key', label(item.key));
      name.title = label(item.key);
      if (item.key === null) name.classList.add('direct');
      const barCell = document.createElement('td');
      barCell.className = 'bar-cell';
      const svg = svgEl('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
      svg.append(svgEl('rect', { class: 'bar', x: 0, y: 0, height: 10, width: Math.max((item.exposures / largest) * 100, 0.5) }));
      barCell.append(svg);

      row.append(name, cell('num', item.exposures.toLocaleString()), cell('num', item.users.toLocaleString()), barCell);
      tbody.append(row);
    }
  }

  function cell(className, text) {
    const td = document.createElement('td');
    td.className = className;
    td.textContent = text;
    return td;
  }

  function emptyNote(text) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = text;
    return p;
  }

  function svgEl(name, attributes) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  }

  /** The smallest of 1, 2, 2.5, 5 × 10^n at or above value, so the y axis gets round ticks. */
  function niceCeiling(value) {
    if (value <= 4) return 4;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function formatTick(value) {
    return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumFractionDigits: 1 });
  }

  /** "10:00" or "05-01 10:00" from a UTC ISO hour. */
  function hourLabel(iso, withDate) {
    return withDate ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
  }

  function showError(err) {
    const code = err instanceof ApiError ? err.code : 'ERROR';
    errorBox.dataset.code = code;
    errorBox.querySelector('[data-testid="error-code"]').textContent = code;
    errorBox.querySelector('[data-testid="error-message"]').textContent = err.message;
    errorBox.hidden = false;
  }

  function hideError() {
    errorBox.hidden = true;
    delete errorBox.dataset.code;
  }
})();
