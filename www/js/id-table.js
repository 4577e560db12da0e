// The ID-table flow (the CLI's predict-table): the user's table of
// Advertisement IDs and a folder of creatives in; the same table out with
// each row's segment, or why it has none. Each creative is classified once
// however many rows name it; the rows are shown as they are answered.
import { t, count, language, worded } from './i18n.js';
import { $, el, download, formatSeconds, errorText, failureReport, percent, showProgress, dropZone, isTableFile } from './ui.js';

/** Wires the "ID table" tab to the classifier `cf`; failures go to `toast`. */
export function setUpIdTable(cf, toast) {
  const tableInputs = { table: null, media: [] };
  function tableChosen() {
    const { table, media } = tableInputs;
    $('table-chosen').textContent = [table && table.name, media.length ? count(media.length, 'files') : ''].filter(Boolean).join(' · ');
    $('table-run').disabled = !(table && media.length);
  }
  $('table-file').addEventListener('change', (e) => {
    tableInputs.table = e.target.files[0] || null;
    tableChosen();
  });
  $('table-media').addEventListener('change', (e) => {
    tableInputs.media = [...e.target.files];
    tableChosen();
  });
  dropZone($('table-drop'), (files) => {
    for (const f of files) {
      if (isTableFile(f.name) && !tableInputs.table) tableInputs.table = f;
      else tableInputs.media.push(f);
    }
    tableChosen();
  });

  // Each row of the user's table as it is answered: the creative it names
  // (classified once however many rows name it), or why it has none.
  $('table-run').addEventListener('click', async () => {
    const { table, media } = tableInputs;
    const box = $('table-progress');
    const rowsBody = $('table-rows').tBodies[0];
    let cancelled = false;
    $('table-cancel').hidden = false;
    $('table-cancel').onclick = () => (cancelled = true);
    $('table-run').disabled = true;
    $('table-done').hidden = true;
    rowsBody.replaceChildren();
    $('table-rows').hidden = false;
    try {
      const bytes = new Uint8Array(await table.arrayBuffer());
      const plan = await cf.call('planTable', { name: table.name, bytes, mediaNames: media.map((f) => f.name) });
      const creatives = new Set(plan.filter((r) => r.media != null).map((r) => r.media)).size;
      const byMedia = new Map();
      const reports = [];
      const started = performance.now();
      for (const [k, row] of plan.entries()) {
        const perCreative = byMedia.size ? (performance.now() - started) / byMedia.size : 0;
        const eta = perCreative ? ` · ${t('eta')} ${formatSeconds(perCreative * (creatives - byMedia.size))}` : '';
        showProgress(box, k, plan.length, t('working'), eta);
        let report;
        if (row.media == null) {
          report = { id: row.id, error: row.problem.text, said: { error: row.problem } };
        } else if (cancelled && !byMedia.has(row.media)) {
          report = { id: row.id, error: t('cancelled') };
        } else {
          if (!byMedia.has(row.media)) {
            // The next creative to classify is read and decoded meanwhile.
            const next = plan.slice(k + 1).find((r) => r.media != null && r.media !== row.media && !byMedia.has(r.media));
            byMedia.set(row.media, await cf.classify(media[row.media], next && media[next.media]).catch((e) => failureReport(media[row.media].name, row.id, e)));
          }
          report = byMedia.get(row.media);
        }
        reports.push(report);
        rowsBody.append(tableRow(row, report, row.media != null ? media[row.media].name : ''));
      }
      showProgress(box, plan.length, plan.length, cancelled ? t('cancelled') : t('done'));
      const files = await cf.call('answerTable', { name: table.name, bytes, reports: reports.map(worded), lang: language() });
      const stem = table.name.replace(/\.[^.]+$/, '');
      $('table-xlsx').onclick = () => download(files.xlsx, `${stem}_segments.xlsx`);
      $('table-csv').onclick = () => download(files.csv, `${stem}_segments.csv`);
      const decided = reports.filter((r) => r.segment_id != null).length;
      $('table-summary').textContent = `${decided} / ${reports.length} ${t('rowsDecided')}`;
      $('table-done').hidden = false;
    } catch (e) {
      toast(errorText(e));
    } finally {
      $('table-run').disabled = false;
      $('table-cancel').hidden = true;
    }
  });
}

// One row of the ID-table flow's results: the table's ID, the file, the answer or the reason.
function tableRow(row, report, file) {
  const r = worded(report);
  const failed = r.segment_id == null;
  return el('tr', { className: failed ? 'failed' : 'ok' },
    el('td', {}, String(row.id)),
    el('td', {}, file),
    el('td', {}, failed ? '' : `${r.segment_id} ${r.segment_name}`),
    el('td', { className: 'num' }, r.confidence != null ? percent(r.confidence) : ''),
    el('td', {}, failed ? r.error || r.note || t('noSpeechNote') : t('ok')));
}
