/*
 * The dashboard's funnel and lifecycle panels: reads /v1/exposures/funnel (the totals, or one
 * message's, and per category) and /v1/exposures/messages/stats, and draws them as bars with rates.
 * Loaded before dashboard.js, which calls HeraldFunnel.load and .render with its own API reader.
 * Every value goes into the page through textContent or attributes, never as markup.
 */
'use strict';

(function () {
  /** The funnel's steps in order, and what each one's rate is a share of. */
  const STEPS = [
    ['sent', 'Sent', null],
    ['delivered', 'Delivered', 'sent'],
    ['opened', 'Opened', 'delivered'],
    ['clicked', 'Clicked', 'delivered'],
    ['dismissed', 'Dismissed', 'delivered'],
    ['expired', 'Expired', 'sent'],
    ['dropped', 'Dropped', 'sent'],
    ['pending', 'Pending', 'sent'],
  ];
  const LIFECYCLE = ['sent', 'scheduled', 'updated', 'recalled', 'replaced'];
  const $ = (id) => document.getElementById(id);

  /** Fetches what the panels show; `getJson(path, query)` is the dashboard's reader (token, errors). */
  async function load(getJson, range, messageId) {
    const funnelQuery = { ...range, groupBy: 'category' };
    if (messageId) funnelQuery.messageId = messageId;
    const [funnel, lifecycle] = await Promise.all([getJson('/v1/exposures/funnel', funnelQuery), getJson('/v1/exposures/messages/stats', range)]);
    return { funnel, lifecycle, messageId };
  }

  function render({ funnel, lifecycle, messageId }) {
    $('funnel-scope').textContent = messageId ? `message ${messageId}` : 'every message in the window';
    drawSteps($('funnel-steps'), funnel.totals);
    fillCategories($('funnel-categories'), funnel.items || []);
    for (const name of LIFECYCLE) {
      const element = $(`lifecycle-${name}`);
      element.textContent = lifecycle[name].toLocaleString();
      element.dataset.value = String(lifecycle[name]);
    }
  }

  /** A share as a rate (0–1, for the tests) and as text. */
  function rate(value, of) {
    if (!of) return { value: '', text: '—' };
    return { value: String(value / of), text: `${((value / of) * 100).toFixed(1)} %` };
  }

  function drawSteps(list, totals) {
    list.replaceChildren();
    const largest = Math.max(totals.sent, totals.delivered, 1);
    for (const [step, label, base] of STEPS) {
      const value = totals[step];
      const share = base ? rate(value, totals[base]) : { value: '', text: '' };
      const row = document.createElement('li');
      row.className = `step step-${step}`;
      row.dataset.testid = 'funnel-step';
      row.dataset.step = step;
      row.dataset.value = String(value);
      if (share.value) row.dataset.rate = share.value;
      const name = span('name', label);
      const track = span('track', '');
      const bar = span('fill', '');
      bar.dataset.width = String(Math.round((value / largest) * 100));
      track.append(bar);
      row.append(name, track, span('num', value.toLocaleString()), span('rate', base ? `${share.text} of ${base}` : ''));
      list.append(row);
    }
    // Widths through the CSSOM (allowed by the style-src policy), not a style attribute.
    for (const bar of list.querySelectorAll('.fill')) bar.style.width = `${bar.dataset.width}%`;
    const times = $('funnel-times');
    times.textContent =
      `Time to delivery p50 ${seconds(totals.timeToDelivery.p50)}, p90 ${seconds(totals.timeToDelivery.p90)} · ` +
      `time to open p50 ${seconds(totals.timeToOpen.p50)}, p90 ${seconds(totals.timeToOpen.p90)}`;
  }

  function seconds(value) {
    if (value === null) return '—';
    return value < 120 ? `${value.toLocaleString()} s` : `${(value / 60).toFixed(1)} min`;
  }

  function fillCategories(tbody, items) {
    tbody.replaceChildren();
    if (items.length === 0) {
      const row = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 6;
      td.append(span('empty', 'No messages in this window.'));
      row.append(td);
      tbody.append(row);
      return;
    }
    for (const item of items) {
      const row = document.createElement('tr');
      row.dataset.testid = 'funnel-category-row';
      if (item.key !== null) row.dataset.key = item.key;
      for (const step of ['sent', 'delivered', 'opened', 'clicked', 'expired', 'dropped']) row.dataset[step] = String(item[step]);
      const key = cell('key', item.key === null ? '(direct)' : item.key);
      row.append(
        key,
        cell('num', item.sent.toLocaleString()),
        cell('num', `${item.delivered.toLocaleString()} (${rate(item.delivered, item.sent).text})`),
        cell('num', `${item.opened.toLocaleString()} (${rate(item.opened, item.delivered).text})`),
        cell('num', `${item.clicked.toLocaleString()} (${rate(item.clicked, item.delivered).text})`),
        cell('num', `${(item.expired + item.dropped).toLocaleString()} (${rate(item.expired + item.dropped, item.sent).text})`),
      );
      tbody.append(row);
    }
  }

  function span(className, text) {
    const element = document.createElement('span');
    element.className = className;
    element.textContent = text;
    return element;
  }

  function cell(className, text) {
    const td = document.createElement('td');
    td.className = className;
    td.textContent = text;
    return td;
  }

  window.HeraldFunnel = { load, render };
})();
