// Small DOM helpers shared by the page's parts. Text always goes in as
// text nodes: file names, transcripts and table cells cannot inject HTML.
import { t, language, say, pageMessage } from './i18n.js';

/**
 * The page's element with this id (typed loosely: inputs, tables and
 * buttons alike; the page's ids are fixed in index.html).
 * @param {string} id
 * @returns {any}
 */
export const $ = (id) => document.getElementById(id);

/** An element with properties and children (strings become text nodes). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'className' || k === 'value' || k === 'max' || k === 'title' || k === 'hidden') node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** Every file in a drop, walking into dropped folders. */
export async function filesFromDrop(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries returns at most ~100 entries per call.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

/** Offers bytes as a download. */
export function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes]));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A number as the page's language writes it (6 000 and 12,3 in Russian). */
export const number = (n, digits = 0) => n.toLocaleString(language() === 'en' ? 'en-US' : 'ru-RU', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A share (0–1) in per cent; confidences too: one scale everywhere. */
export const percent = (p) => `${number(p * 100, 1)} %`;

export function formatSeconds(ms) {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A worker error ({code, message, said}) in the user's words. */
export function errorText(e) {
  if (!e) return t('failed');
  return say(said(e));
}

/** What a failure said: the core's message, or the page's own (crashed, too large, timed out). */
const said = (e) => (e.code === 'crashed' || !e.said ? pageMessage(e) : e.said);

/**
 * A failure as a core message, for the core to pass on (a training problem):
 * the page's own failures worded now, since the core keeps code and text only.
 */
export const failureMessage = (e) => {
  const m = said(e);
  return m.page ? { code: m.code, text: say(m) } : m;
};

/** The report of a file the worker failed on: its name and why (`said`: worded anew when the language changes). */
export const failureReport = (file, id, e) => ({ file, id, error: errorText(e), ...(e ? { said: { error: said(e) } } : {}) });

/** Fills a progress box (a <progress> and a <span>): "label done of total". */
export function showProgress(box, done, total, label, suffix = '') {
  box.hidden = false;
  box.querySelector('progress').max = Math.max(total, 1);
  box.querySelector('progress').value = done;
  box.querySelector('span').textContent = `${label} ${done} ${t('of')} ${total}${suffix}`;
}

/** Makes `zone` take dropped files and folders (walked into) for `onFiles`. */
export function dropZone(zone, onFiles) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    onFiles(await filesFromDrop(e.dataTransfer));
  });
}

/** A dropped file that is a table (labels, IDs) rather than a creative: the core's table readers' kinds. */
export const isTableFile = (name) => /\.(xlsx|xls|ods|csv)$/i.test(name);
