// The batch: a queue of files classified one at a time by the worker, and
// the results table (sortable, filterable, transcript on click). Only File
// handles and small reports are kept, so a batch of thousands of files does
// not hold their bytes.
import { t } from './i18n.js';
import { el, formatSeconds, errorText } from './ui.js';

export class Batch {
  constructor(cf, view) {
    this.cf = cf;
    this.view = view;
    this.items = [];
    this.running = false;
    this.sortKey = null;
    this.sortDir = 1;
    view.filter.addEventListener('input', () => this.render());
    view.segmentFilter.addEventListener('change', () => this.render());
    for (const th of view.headers.querySelectorAll('th[data-sort]')) {
      th.addEventListener('click', () => {
        this.sortDir = this.sortKey === th.dataset.sort ? -this.sortDir : 1;
        this.sortKey = th.dataset.sort;
        for (const other of view.headers.querySelectorAll('th')) other.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', this.sortDir > 0 ? 'ascending' : 'descending');
        this.render();
      });
    }
  }

  add(files) {
    for (const file of files) {
      const item = { file, name: file.webkitRelativePath || file.name, status: 'queued', report: null, ms: 0 };
      item.row = el('tr', { className: 'queued' });
      item.row.addEventListener('click', () => this.toggleDetail(item));
      this.items.push(item);
      this.paint(item);
    }
    this.render();
    this.view.onChange(this.items.length);
    if (!this.running) this.run();
  }

  async run() {
    this.running = true;
    this.cancelled = false;
    const started = performance.now();
    let doneHere = 0;
    for (;;) {
      const item = this.items.find((i) => i.status === 'queued');
      if (!item || this.cancelled) break;
      item.status = 'working';
      this.paint(item);
      this.progress(started, doneHere);
      const t0 = performance.now();
      try {
        // The next queued file is read and decoded while this one is classified.
        const next = this.items.find((i) => i.status === 'queued');
        item.report = await this.cf.classify(item.file, next && next.file);
        item.status = item.report.segment_id != null ? 'ok' : 'no-speech';
      } catch (e) {
        item.report = { file: item.name, id: stem(item.name), error: errorText(e) };
        item.code = e && e.code;
        item.status = 'failed';
      }
      item.ms = performance.now() - t0;
      item.file = null; // let the browser release it
      doneHere++;
      this.paint(item);
    }
    for (const item of this.items) {
      if (item.status === 'queued') {
        item.status = 'cancelled';
        item.report = { file: item.name, id: stem(item.name), error: t('cancelled') };
        this.paint(item);
      }
    }
    this.running = false;
    this.progress(started, doneHere);
    this.render();
  }

  cancel() {
    this.cancelled = true;
  }

  clear() {
    this.cancel();
    this.items = this.items.filter((i) => i.status === 'working');
    this.render();
    this.view.onChange(this.items.length);
  }

  /** Reports in table order, failed and cancelled files included. */
  reports() {
    return this.items.filter((i) => i.report).map((i) => i.report);
  }

  setSegments(segments) {
    const select = this.view.segmentFilter;
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, t('allSegments')), ...segments.map((s) => el('option', { value: String(s.id) }, `${s.id} ${s.name}`)));
    select.value = chosen;
  }

  progress(started, doneHere) {
    const v = this.view;
    const total = this.items.length;
    const finished = this.items.filter((i) => !['queued', 'working'].includes(i.status)).length;
    v.progress.hidden = false;
    v.bar.max = Math.max(total, 1);
    v.bar.value = finished;
    const left = total - finished;
    let text = `${finished} ${t('of')} ${total}`;
    if (this.running && doneHere > 0 && left > 0) {
      const perFile = (performance.now() - started) / doneHere;
      text += ` · ${t('eta')} ${formatSeconds(perFile * left)}`;
    } else if (!this.running) {
      text += ` · ${t('done')}`;
    }
    v.text.textContent = text;
    v.progress.querySelector('#cancel').hidden = !this.running;
  }

  /** Fills one item's row from its state. */
  paint(item) {
    const r = item.report || {};
    const top = (r.top || []).map((s) => `${s.segment_id} ${(s.confidence * 100).toFixed(0)}%`).join(' · ');
    const segment = r.segment_id != null ? `${r.segment_id} ${r.segment_name}` : '';
    // Short, in the user's language; the full reason is in the row's detail.
    const reason = item.code && t(`code-${item.code}`) !== `code-${item.code}` ? t(`code-${item.code}`) : r.error;
    const status = item.status === 'failed' ? `${t('failed')}: ${reason}` : item.status === 'no-speech' ? t('noSpeechNote') : t(item.status);
    item.row.className = item.status;
    item.row.replaceChildren(
      el('td', {}, r.id ?? stem(item.name)),
      el('td', { title: item.name }, item.name),
      el('td', {}, segment),
      el('td', { className: 'num' }, r.confidence != null ? r.confidence.toFixed(3) : ''),
      el('td', { className: 'muted' }, top),
      el('td', { title: branchTops(r) }, r.modality ? `${t(r.modality)}${r.cached ? ` · ${t('cached')}` : ''}` : ''),
      el('td', { className: 'num' }, item.ms ? (item.ms / 1000).toFixed(1) : ''),
      el('td', {}, status),
    );
    if (item.detail) item.detail.firstChild.textContent = detailText(r);
  }

  toggleDetail(item) {
    if (item.detail) {
      item.detail.remove();
      item.detail = null;
      return;
    }
    const r = item.report || {};
    item.detail = el('tr', { className: 'detail' }, el('td', { colspan: '8' }, detailText(r)));
    item.row.after(item.detail);
  }

  matches(item) {
    const needle = this.view.filter.value.trim().toLowerCase();
    const segment = this.view.segmentFilter.value;
    const r = item.report || {};
    if (segment && String(r.segment_id) !== segment) return false;
    if (!needle) return true;
    return [item.name, r.segment_name, r.transcript, r.error].some((s) => s && s.toLowerCase().includes(needle));
  }

  /** Orders and filters the existing rows (nodes are reused, not rebuilt). */
  render() {
    const key = {
      id: (i) => (i.report && i.report.id) || stem(i.name),
      file: (i) => i.name,
      segment: (i) => (i.report && i.report.segment_id) ?? Infinity,
      confidence: (i) => (i.report && i.report.confidence) ?? -1,
      modality: (i) => (i.report && i.report.modality) || '',
      time: (i) => i.ms,
      status: (i) => i.status,
    }[this.sortKey];
    const rows = this.items.filter((i) => this.matches(i));
    if (key) {
      const cmp = (a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true }));
      rows.sort((a, b) => this.sortDir * cmp(key(a), key(b)));
    }
    for (const i of this.items) this.paint(i);
    this.view.body.replaceChildren(...rows.flatMap((i) => (i.detail ? [i.row, i.detail] : [i.row])));
  }
}

// Each branch's own top segment, when the video branch took part.
const branchTops = (r) =>
  [['speechSays', r.speech_segment], ['videoSays', r.vision_segment]]
    .filter(([, top]) => top)
    .map(([key, top]) => `${t(key)}: ${top.segment_id} ${top.segment_name} ${(top.confidence * 100).toFixed(0)}%`)
    .join(' · ');

const detailText = (r) => [r.transcript || r.error || r.note || '', branchTops(r)].filter(Boolean).join(' — ');

const stem = (name) => name.split('/').pop().replace(/\.[^.]*$/, '');
