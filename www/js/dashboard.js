// The spend dashboard tab: files in, filters, KPI cards and the charts the
// Rust core draws (SVG), with tooltips, legend toggles and exports. The work
// happens in dashboard-worker.js; this file only renders its answers.
import { t, language, sayRow } from './i18n.js';
import { $, el, download, errorText, percent, number } from './ui.js';
import { WorkerRpc } from './rpc.js';

/** The dashboard worker, called like a function: `await call('view', …)`. */
function connect(onProgress) {
  const worker = new Worker(new URL('./dashboard-worker.js', import.meta.url), { type: 'module' });
  const rpc = new WorkerRpc(worker, { onEvent: (data) => onProgress(data.progress) });
  worker.onerror = (e) => rpc.failAll({ code: 'crashed', message: e.message });
  // How many calls are in flight, on the page for tests to wait on.
  const busy = () => (document.body.dataset.dashboardBusy = String(rpc.pending.size));
  return (method, ...args) => {
    const answer = rpc.call(method, args);
    busy();
    return answer.finally(() => setTimeout(busy));
  };
}

const CHARTS = ['segments_by_month', 'segment_share', 'top_advertisers', 'brand_months', 'media_types'];
const KPIS = ['total', 'creatives', 'advertisers', 'classified'];
const EMPTY_FILTER = { years: [], from: null, to: null, segments: [], advertisers: [], brands: [], media_types: [], brand: null };

function money(kopecks, short = false) {
  const lang = language() === 'en' ? 'en-US' : 'ru-RU';
  const rub = kopecks / 100;
  if (short) return `${new Intl.NumberFormat(lang, { notation: 'compact', maximumFractionDigits: 1 }).format(rub)} ₽`;
  return `${new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(rub)} ₽`;
}


/** The selected values of a <select multiple>, or the one value of a plain one. */
function selected(select) {
  return [...select.selectedOptions].map((o) => o.value).filter((v) => v !== '');
}

/**
 * @param {HTMLSelectElement} select
 * @param {[string, string][]} items  value and label of each option
 * @param {{all?: string}} [options]  `all`: a first option meaning "any"
 */
function fillSelect(select, items, { all } = {}) {
  const keep = new Set(selected(select));
  select.replaceChildren(...(all ? [el('option', { value: '' }, all)] : []), ...items.map(([value, label]) => {
    const o = el('option', { value }, label);
    o.selected = keep.has(value);
    return o;
  }));
  if (select.multiple) showChosen(select);
}

// Lists of many choices (brands, advertisers) get a search box above them
// and show what is chosen as chips below, each a button that removes it:
// the selection stays visible however the list is scrolled. The <select>
// stays the one source of truth (and what the keyboard and tests drive).
const SEARCH_FROM = 8;

function enhanceMultiSelect(select) {
  const label = select.closest('label');
  const search = el('input', { type: 'search', className: 'filter-search' });
  search.hidden = true;
  search.addEventListener('input', () => {
    const needle = search.value.trim().toLowerCase();
    for (const o of select.options) o.hidden = needle !== '' && !o.textContent.toLowerCase().includes(needle);
  });
  const chips = el('div', { className: 'chips' });
  chips.addEventListener('click', (e) => {
    const chip = e.target.closest('button[data-value]');
    if (!chip) return;
    for (const o of select.options) if (o.value === chip.dataset.value) o.selected = false;
    select.dispatchEvent(new Event('change'));
  });
  select.before(search);
  label.append(chips);
  select.addEventListener('change', () => showChosen(select));
  select.enhanced = { search, chips };
}

function showChosen(select) {
  const { search, chips } = select.enhanced || {};
  if (!chips) return;
  search.hidden = select.options.length < SEARCH_FROM;
  search.placeholder = t('dashSearch');
  search.setAttribute('aria-label', `${t('dashSearch')}: ${select.closest('label').firstElementChild.textContent}`);
  chips.replaceChildren(...[...select.selectedOptions].map((o) =>
    el('button', { type: 'button', className: 'chip', 'data-value': o.value, 'aria-label': `${t('dashRemove')}: ${o.textContent}` }, `${o.textContent} ×`)));
}

export class SpendDashboardView {
  constructor({ predictions, segments, toast }) {
    this.predictions = predictions;
    this.segments = segments;
    this.toast = toast;
    // The worker (and the module it loads) starts when the dashboard is
    // first used, not with the page: a first visit that only classifies
    // does not download a second copy of the module.
    let call = null;
    this.call = (...args) => (call ||= connect((p) => this.progress(p)))(...args);
    this.filter = { ...EMPTY_FILTER };
    this.hidden = new Set();
    this.loaded = false;
    this.version = 0;
    this.tooltip = $('dash-tooltip');
    this.bind();
  }

  bind() {
    for (const [id, source] of [['dash-labels', 'known'], ['dash-predictions', 'predicted']]) {
      $(id).addEventListener('change', (e) => {
        const file = e.target.files[0];
        e.target.value = '';
        if (file) this.addLabels(file, source);
      });
    }
    $('dash-sample').addEventListener('click', () => this.load(() => this.call('sample')));
    $('dash-spend').addEventListener('change', (e) => {
      const file = e.target.files[0];
      e.target.value = '';
      if (file) this.load(() => this.call('readSpend', file));
    });
    $('dash-session').addEventListener('change', () => this.activate());
    for (const id of ['dash-years', 'dash-from', 'dash-to', 'dash-segments', 'dash-advertisers', 'dash-brands', 'dash-media', 'dash-brand']) {
      $(id).addEventListener('change', () => this.readFilters());
    }
    for (const id of ['dash-years', 'dash-segments', 'dash-advertisers', 'dash-brands', 'dash-media']) enhanceMultiSelect($(id));
    $('dash-reset').addEventListener('click', () => {
      for (const s of $('dash-filters').querySelectorAll('select')) {
        for (const o of s.options) o.selected = false;
        showChosen(s);
      }
      this.hidden.clear();
      this.readFilters();
    });
    $('dash-csv').addEventListener('click', () => this.exportTable('csv'));
    $('dash-xlsx').addEventListener('click', () => this.exportTable('xlsx'));
    const charts = $('dash-charts');
    charts.addEventListener('click', (e) => {
      const legend = e.target.closest('.legend-item');
      if (legend) {
        this.toggleSeries(legend);
        return;
      }
      const button = e.target.closest('button[data-export]');
      if (button) this.exportChart(button.closest('figure'), button.dataset.export);
    });
    // Legend entries are buttons for the keyboard too (see drawCharts).
    charts.addEventListener('keydown', (e) => {
      const legend = e.target.closest('.legend-item');
      if (!legend || (e.key !== 'Enter' && e.key !== ' ')) return;
      e.preventDefault();
      this.toggleSeries(legend, { refocus: true });
    });
    charts.addEventListener('mousemove', (e) => {
      const bar = e.target.closest('[data-tip]');
      this.tooltip.hidden = !bar;
      if (!bar) return;
      this.tooltip.textContent = bar.dataset.tip;
      this.tooltip.style.left = `${e.pageX + 14}px`;
      this.tooltip.style.top = `${e.pageY + 14}px`;
    });
    charts.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
  }

  /** Hides or shows a legend entry's series; from the keyboard, the focus stays on the entry. */
  async toggleSeries(legend, { refocus = false } = {}) {
    const key = legend.dataset.series;
    const chart = legend.closest('figure').dataset.chart;
    if (this.hidden.has(key)) this.hidden.delete(key);
    else this.hidden.add(key);
    await this.render();
    if (refocus) $('dash-charts').querySelector(`[data-chart="${chart}"] .legend-item[data-series="${CSS.escape(key)}"]`)?.focus();
  }

  async addLabels(file, source) {
    try {
      const n = await this.call('labels', file, source);
      this.toast(`${file.name}: ${n} ${t('dashLabelsRead')}`);
      await this.refreshReport();
      await this.render();
    } catch (err) {
      this.toast(errorText(err));
    }
  }

  /** Dropped files, told apart by name: labels, predictions, else the spend file. */
  async drop(files) {
    let spend = null;
    for (const file of files) {
      if (/train|label|размет/i.test(file.name)) await this.addLabels(file, 'known');
      else if (/result|predict|_segments\.|предсказ/i.test(file.name)) await this.addLabels(file, 'predicted');
      else spend = spend || file;
    }
    if (spend) await this.load(() => this.call('readSpend', spend));
  }

  /** Called when the tab opens: this session's segments and predictions go in. */
  async activate() {
    try {
      // Before the models load the page knows no segments; the built-in names stay.
      const segments = this.segments();
      if (segments.length) await this.call('segments', segments);
      const list = $('dash-session').checked ? this.predictions() : [];
      await this.call('predictions', list);
      if (!this.loaded) await this.load(() => this.call('sample'));
      else {
        await this.refreshReport();
        await this.render();
      }
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  async load(read) {
    const box = $('dash-progress');
    box.hidden = false;
    box.querySelector('progress').removeAttribute('value');
    box.querySelector('span').textContent = t('dashReading');
    document.body.dataset.dashboard = 'loading';
    try {
      this.report = await read();
      this.loaded = true;
      this.version++;
      this.showReport();
      await this.render();
      document.body.dataset.dashboard = 'ready';
    } catch (e) {
      document.body.dataset.dashboard = 'failed';
      this.toast(errorText(e));
    } finally {
      box.hidden = true;
    }
  }

  progress({ rows, bytes, total }) {
    const box = $('dash-progress');
    box.querySelector('progress').value = total ? bytes / total : 0;
    box.querySelector('span').textContent = `${number(rows)} ${t('dashRows')}`;
  }

  /** After labels change: the report and the filter options (segments present) are redone. */
  async refreshReport() {
    if (!this.loaded) return;
    this.version++;
    this.report = await this.call('report');
    this.showReport();
  }

  showReport() {
    const r = this.report;
    $('dash-sample-badge').hidden = !r.sample;
    const c = r.creatives;
    $('dash-source').textContent = [
      r.source,
      `${number(r.rows)} ${t('dashRows')} → ${number(r.lines)} ${t('dashLines')}`,
      `${number(r.summed_rows)} ${t('dashSummed')}`,
      `${t('dashCreatives')}: ${c.known} ${t('dashKnown')}, ${c.predicted} ${t('dashPredicted')}, ${c.unclassified} ${t('dashUnclassified')}`,
    ].join(' · ');
    const problems = [
      ...r.bad.listed.map(sayRow),
      ...r.conflicts.listed.map(sayRow),
      ...r.label_problems.slice(0, 200).map(sayRow),
    ];
    const details = $('dash-problems');
    details.hidden = r.bad.count + r.conflicts.count + r.label_problems.length === 0;
    const reasons = Object.entries(r.bad.by_reason).map(([k, n]) => `${t(`reason-${k}`).replace(/^reason-/, '')}: ${n}`).join(', ');
    details.querySelector('summary').textContent =
      `${t('dashBad')}: ${r.bad.count}${reasons ? ` (${reasons})` : ''}${r.conflicts.count ? ` · ${t('dashConflicts')}: ${r.conflicts.count}` : ''}${r.label_problems.length ? ` · ${t('dashLabelProblems')}: ${r.label_problems.length}` : ''}`;
    details.querySelector('ul').replaceChildren(...problems.map((p) => el('li', {}, p)));
    if (r.bad.count > r.bad.listed.length) details.querySelector('ul').append(el('li', { className: 'muted' }, `… ${r.bad.count - r.bad.listed.length} ${t('dashMore')}`));
  }

  readFilters() {
    const segments = selected($('dash-segments')).map((v) => (v === 'none' ? null : Number(v)));
    const [from] = selected($('dash-from'));
    const [to] = selected($('dash-to'));
    const [brand] = selected($('dash-brand'));
    this.filter = {
      years: selected($('dash-years')).map(Number),
      from: from || null,
      to: to || null,
      segments,
      advertisers: selected($('dash-advertisers')),
      brands: selected($('dash-brands')),
      media_types: selected($('dash-media')),
      brand: brand || null,
    };
    this.render();
  }

  /** Asks the worker for the view of the current filter and draws it; a newer request wins. */
  async render() {
    if (!this.loaded) return;
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    const withOptions = this.optionsVersion !== this.version || this.optionsLang !== language();
    let view;
    try {
      view = await this.call('view', this.filter, language(), [...this.hidden], withOptions);
    } catch (e) {
      this.toast(errorText(e));
      return;
    }
    if (ticket !== this.ticket) return;
    this.view = view;
    if (view.options) {
      this.fillOptions(view.options);
      this.optionsVersion = this.version;
      this.optionsLang = language();
    }
    this.drawKpis(view.overview.kpi);
    this.drawCharts(view.charts);
    document.body.dataset.dashboardView = String(ticket);
  }

  fillOptions(o) {
    // Labelled as the charts label them ("янв 2024"); the value stays "2024-01".
    const months = o.periods.map((p, i) => [p, o.period_labels[i]]);
    fillSelect($('dash-years'), o.years.map((y) => [String(y), String(y)]));
    fillSelect($('dash-from'), months, { all: t('dashFirst') });
    fillSelect($('dash-to'), months, { all: t('dashLast') });
    fillSelect($('dash-segments'), o.segments.map((s) => [s.segment == null ? 'none' : String(s.segment), s.name]));
    fillSelect($('dash-advertisers'), o.advertisers.map((a) => [a, a]));
    fillSelect($('dash-brands'), o.brands.map((b) => [b, b]));
    fillSelect($('dash-media'), o.media_types.map((m) => [m, m]));
    fillSelect($('dash-brand'), o.brands.map((b) => [b, b]), { all: t('dashBiggestBrand') });
  }

  drawKpis(k) {
    const cards = {
      total: [t('dashTotal'), money(k.total), k.total],
      creatives: [t('dashCreatives'), number(k.creatives), k.creatives],
      advertisers: [t('dashAdvertisers'), number(k.advertisers), k.advertisers],
      classified: [t('dashClassified'), percent(k.classified_share), k.classified_share],
    };
    const split = `${t('dashKnown')}: ${money(k.split.known, true)} · ${t('dashPredicted')}: ${money(k.split.predicted, true)} · ${t('dashUnclassified')}: ${money(k.split.unclassified, true)}`;
    $('dash-kpis').replaceChildren(...KPIS.map((key) => {
      const [label, text, value] = cards[key];
      return el('div', { className: 'kpi', 'data-kpi': key, 'data-value': String(value) },
        el('span', { className: 'muted' }, label), el('strong', {}, text), ...(key === 'total' ? [el('small', { className: 'muted' }, split)] : []));
    }));
  }

  drawCharts(charts) {
    const box = $('dash-charts');
    box.replaceChildren(...CHARTS.map((name) => {
      // Parsed as XML, not HTML: names in it are escaped by the Rust core and cannot become markup.
      const svg = new DOMParser().parseFromString(charts[name], 'image/svg+xml').documentElement;
      for (const title of [...svg.querySelectorAll('.bar > title, .legend-item > title')]) {
        /** @type {HTMLElement} */ (title.parentNode).dataset.tip = title.textContent;
        title.remove();
      }
      // On the page the chart holds buttons (its legend): a group, not a picture as in the exported file.
      svg.setAttribute('role', 'group');
      for (const item of /** @type {NodeListOf<HTMLElement>} */ (svg.querySelectorAll('.legend-item'))) {
        item.setAttribute('tabindex', '0');
        item.setAttribute('role', 'button');
        item.setAttribute('aria-pressed', String(item.dataset.hidden !== 'true'));
        item.setAttribute('aria-label', item.dataset.tip || item.textContent);
      }
      svg.removeAttribute('width');
      svg.removeAttribute('height');
      const figure = el('figure', { className: 'chart', 'data-chart': name },
        document.importNode(svg, true),
        el('figcaption', {},
          el('button', { type: 'button', 'data-export': 'svg' }, 'SVG'),
          el('button', { type: 'button', 'data-export': 'png' }, 'PNG')));
      return figure;
    }));
  }

  exportChart(figure, kind) {
    const svg = this.view.charts[figure.dataset.chart];
    const name = `spend-${figure.dataset.chart.replaceAll('_', '-')}`;
    if (kind === 'svg') return download(new TextEncoder().encode(svg), `${name}.svg`);
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = img.width * 2;
      canvas.height = img.height * 2;
      const ctx = canvas.getContext('2d');
      ctx.scale(2, 2);
      ctx.drawImage(img, 0, 0);
      URL.revokeObjectURL(url);
      canvas.toBlob(async (blob) => download(new Uint8Array(await blob.arrayBuffer()), `${name}.png`), 'image/png');
    };
    img.onerror = () => this.toast(t('failed'));
    img.src = url;
  }

  async exportTable(kind) {
    try {
      const bytes = await this.call('exportTable', this.filter, language(), kind);
      download(bytes, `spend-by-segment.${kind}`);
    } catch (e) {
      this.toast(errorText(e));
    }
  }
}
