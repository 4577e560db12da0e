// The batch: a queue of files classified one at a time by the worker, and
// the results table (sortable, filterable, transcript on click). Only File
// handles and small reports are kept, so a batch of thousands of files does
// not hold their bytes. Each finished row is kept in the browser
// (storage.js): a reload shows the table again, and re-dropping a folder
// after an interrupted batch skips the files already done.
import { t, worded } from './i18n.js';
import { el, formatSeconds, failureReport, percent, number } from './ui.js';
import { RESULTS, readAll, putAll, clearStore } from './storage.js';

// Below this confidence (per cent) an answer is marked "check" until the user sets their own.
const DEFAULT_THRESHOLD_PERCENT = 30;
const THRESHOLD_KEY = 'creative-filter.threshold';

// Finished rows are final; the others need the File, which a reload loses.
const FINAL = ['ok', 'no-speech', 'failed'];

/** @typedef {import('./report').Report} Report */
/**
 * A row of the batch: its file (null once kept from an earlier visit),
 * status and the core's report.
 * @typedef {{seq: number, status: string, report: Report | null, ms: number, name?: string, file?: File | null, code?: string, row?: HTMLElement, detail?: HTMLElement, [k: string]: any}} Item
 */

export class Batch {
  constructor(cf, view) {
    this.cf = cf;
    this.view = view;
    /** @type {Item[]} */
    this.items = [];
    this.running = false;
    this.sortKey = null;
    this.sortDir = 1;
    // Unique across visits without reading the stored rows first.
    this.nextSeq = Date.now() * 1000;
    this.restored = this.restore();
    view.filter.addEventListener('input', () => this.render());
    view.threshold.value = localStorage.getItem(THRESHOLD_KEY) ?? DEFAULT_THRESHOLD_PERCENT;
    view.threshold.addEventListener('input', () => {
      localStorage.setItem(THRESHOLD_KEY, view.threshold.value);
      this.render();
    });
    view.segmentFilter.addEventListener('change', () => this.render());
    for (const th of view.headers.querySelectorAll('th[data-sort]')) {
      const sort = () => {
        this.sortDir = this.sortKey === th.dataset.sort ? -this.sortDir : 1;
        this.sortKey = th.dataset.sort;
        for (const other of view.headers.querySelectorAll('th')) other.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', this.sortDir > 0 ? 'ascending' : 'descending');
        this.render();
      };
      // Sortable headers are reachable and operable from the keyboard.
      th.tabIndex = 0;
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
        sort();
      });
    }
  }

  /** The rows kept from earlier visits, before any added now. */
  async restore() {
    let records = [];
    try {
      records = (await readAll(RESULTS)).map(([, r]) => r);
    } catch (e) {
      this.view.onStorageProblem(e);
    }
    const items = records.filter((r) => FINAL.includes(r.status)).map((r) => this.item({ ...r, file: null }));
    this.items = [...items, ...this.items];
    this.render();
    this.view.onChange(this.items.length);
    return items.length;
  }

  /** @returns {Item} */
  item(fields) {
    const item = { seq: this.nextSeq++, status: 'queued', report: null, ms: 0, ...fields };
    item.row = el('tr', { className: item.status });
    item.row.addEventListener('click', () => this.toggleDetail(item));
    this.paint(item);
    return item;
  }

  /**
   * Queues files. A file already classified (same path, size and date) is
   * skipped unless `again`, and returned, so the caller can offer to
   * classify it again; a failed or re-run file takes its old row's place.
   */
  add(files, { again = false } = {}) {
    const skipped = [];
    for (const file of files) {
      const name = file.webkitRelativePath || file.name;
      const old = this.items.find((i) => i.name === name && i.size === file.size && i.lastModified === file.lastModified && FINAL.includes(i.status));
      if (old && old.status !== 'failed' && !again) {
        skipped.push(file);
        continue;
      }
      const item = this.item({ file, name, size: file.size, lastModified: file.lastModified, ...(old ? { seq: old.seq } : {}) });
      if (old) {
        this.items[this.items.indexOf(old)] = item;
        old.detail?.remove();
      } else {
        this.items.push(item);
      }
    }
    this.render();
    this.view.onChange(this.items.length);
    if (!this.running) this.run();
    return skipped;
  }

  /** Keeps a finished row in the browser, in place of the one it replaced. */
  async keep(item) {
    const { seq, name, size, lastModified, status, report, ms, code } = item;
    try {
      await putAll(RESULTS, [[null, { seq, name, size, lastModified, status, report, ms, code }]]);
    } catch (e) {
      this.view.onStorageProblem(e);
    }
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
        item.report = failureReport(item.name, stem(item.name), e);
        item.code = e && e.code;
        item.status = 'failed';
      }
      item.ms = performance.now() - t0;
      item.file = null; // let the browser release it
      doneHere++;
      this.paint(item);
      await this.keep(item);
      this.view.onChange(this.items.length);
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

  /** Empties the table, here and in the browser's storage. */
  async clear() {
    this.cancel();
    try {
      await clearStore(RESULTS);
    } catch (e) {
      this.view.onStorageProblem(e);
    }
    this.items = this.items.filter((i) => i.status === 'working');
    this.render();
    this.view.onChange(this.items.length);
  }

  /** Answers less confident than this (0–1) are marked "check"; the user sets it, the browser keeps it. */
  threshold() {
    return Number(this.view.threshold.value) / 100;
  }

  /** Finished rows, for the page's storage line. */
  finished() {
    return this.items.filter((i) => FINAL.includes(i.status)).length;
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
    /** @type {Partial<Report>} */
    const r = worded(item.report || {});
    const top = (r.top || []).map((s) => [s.segment_id, s.segment_name, percent(s.confidence)].filter((x) => x != null && x !== '').join(' ')).join(' · ');
    const segment = r.segment_id != null ? `${r.segment_id} ${r.segment_name}` : '';
    // Short, in the user's language; the full reason is in the row's detail.
    const reason = item.code && t(`code-${item.code}`) !== `code-${item.code}` ? t(`code-${item.code}`) : r.error;
    const low = item.status === 'ok' && r.confidence < this.threshold();
    const status = item.status === 'failed' ? `${t('failed')}: ${reason}` : item.status === 'no-speech' ? t('noSpeechNote') : low ? t('lowConfidence') : t(item.status);
    item.row.className = low ? 'ok low' : item.status;
    item.row.replaceChildren(
      el('td', {}, r.id ?? stem(item.name)),
      el('td', { title: item.name }, item.name),
      el('td', {}, segment),
      el('td', { className: 'num' }, r.confidence != null ? percent(r.confidence) : ''),
      el('td', { className: 'muted' }, top),
      el('td', { title: branchTops(r) }, r.modality ? `${t(r.modality)}${r.cached ? ` · ${t('cached')}` : ''}` : ''),
      el('td', { className: 'num' }, item.ms ? number(item.ms / 1000, 1) : ''),
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
    const r = worded(item.report || {});
    item.detail = el('tr', { className: 'detail' }, el('td', { colspan: '8' }, detailText(r)));
    item.row.after(item.detail);
  }

  matches(item) {
    const needle = this.view.filter.value.trim().toLowerCase();
    const segment = this.view.segmentFilter.value;
    const r = worded(item.report || {});
    if (segment && String(r.segment_id) !== segment) return false;
    if (!needle) return true;
    return [item.name, r.segment_name, r.transcript, r.screen_text, r.error].some((s) => s && s.toLowerCase().includes(needle));
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
/** @param {Partial<Report>} r */
const branchTops = (r) =>
  /** @type {[string, import('./report').BranchTop | undefined][]} */ ([['speechSays', r.speech_segment], ['screenSays', r.screen_segment], ['videoSays', r.vision_segment]])
    .filter(([, top]) => top)
    .map(([key, top]) => `${t(key)}: ${top.segment_id} ${top.segment_name} ${percent(top.confidence)}`)
    .join(' · ');

// Where the answer came from and what each stage took (the CLI's timings).
const STAGES = ['decode', 'resample', 'mel', 'encoder', 'decoder', 'embed', 'screen'];
/** @param {Partial<Report>} r */
const sourceText = (r) => (r.modality ? `${t('source')}: ${t(r.modality)}${r.cached ? ` (${t('cachedTranscript')})` : ''}` : '');
/** @param {Partial<Report>} r */
const timingsText = (r) => {
  const stages = STAGES.filter((k) => r.timings_ms && r.timings_ms[k] > 0);
  return stages.length ? `${t('timings')}: ${stages.map((k) => `${t(`stage-${k}`)} ${number(r.timings_ms[k])} ${t('ms')}`).join(' · ')}` : '';
};

// The words of the transcript that weighed most for the answer (a trained
// head's n-gram weights; the core picks them).
/** @param {Partial<Report>} r */
const evidenceText = (r) =>
  r.evidence && r.evidence.length ? `${t('evidence')}: ${r.evidence.map((e) => `${e.word} +${number(e.weight, 2)}`).join(' · ')}` : '';

// The text read from the picture, or why it was not read; a reading a time
// limit stopped says how much of the picture it covered.
/** @param {Partial<Report>} r */
const screenText = (r) => {
  const f = r.screen_frames;
  const cut = f && f.cut_short ? ` (${t('screenCut')}: ${f.read} ${t('of')} ${f.chosen})` : '';
  return r.screen_text ? `${t('screenText')}: ${r.screen_text.replaceAll('\n', ' / ')}${cut}` : r.screen_note ? `${t('screenText')}: ${r.screen_note}` : '';
};

/** @param {Partial<Report>} r */
const detailText = (r) =>
  [r.transcript || r.error || r.note || '', screenText(r), evidenceText(r), branchTops(r), [sourceText(r), timingsText(r)].filter(Boolean).join(' · ')].filter(Boolean).join('\n');

const stem = (name) => name.split('/').pop().replace(/\.[^.]*$/, '');
