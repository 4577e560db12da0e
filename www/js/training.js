// The training tab: labelled texts, or a labels table with its creatives,
// in; a trained head (used at once, saved as a file) and its report out.
// Which creatives teach which head, and the messages about the others, are
// the core's (pipeline::training, as the CLI's `train`): this file only
// reads the files, classifies the creatives and shows the report.
import { t, count, sayRow } from './i18n.js';
import { $, el, download, errorText, failureMessage, showProgress, dropZone, isTableFile } from './ui.js';

/**
 * Wires the "Training" tab to the classifier `cf`. `toast` shows failures,
 * `applyClassifier` the classifier state after a head is trained, loaded or
 * cleared, `setDictionary` takes a segment dictionary dropped here,
 * `segments()` is the list in use (for the confusion matrix's names).
 */
export function setUpTraining(cf, { toast, applyClassifier, setDictionary, segments }) {
  const trainInputs = { labels: null, media: [], texts: null };
  function trainChosen() {
    const { labels, media, texts } = trainInputs;
    $('train-chosen').textContent = [labels && labels.name, media.length ? count(media.length, 'files') : '', texts && texts.name].filter(Boolean).join(' · ');
    $('train-run').disabled = !(texts || (labels && media.length));
  }
  $('train-labels').addEventListener('change', (e) => {
    trainInputs.labels = e.target.files[0] || null;
    trainInputs.texts = null;
    trainChosen();
  });
  $('train-media').addEventListener('change', (e) => {
    trainInputs.media = [...e.target.files];
    trainChosen();
  });
  $('train-texts').addEventListener('change', (e) => {
    trainInputs.texts = e.target.files[0] || null;
    trainInputs.labels = null;
    trainChosen();
  });
  dropZone($('train-drop'), (files) => {
    for (const f of files) {
      if (/\.jsonl$/i.test(f.name)) trainInputs.texts = f;
      else if (/^segment_dict/i.test(f.name)) setDictionary(f);
      else if (isTableFile(f.name) && !trainInputs.labels) trainInputs.labels = f;
      else trainInputs.media.push(f);
    }
    trainChosen();
  });

  $('train-run').addEventListener('click', async () => {
    const { labels, media, texts } = trainInputs;
    const box = $('train-progress');
    $('train-run').disabled = true;
    try {
      let result;
      if (texts) {
        result = await cf.call('trainTextsFile', { name: texts.name, bytes: new Uint8Array(await texts.arrayBuffer()) });
      } else {
        const bytes = new Uint8Array(await labels.arrayBuffer());
        const plan = await cf.call('planTraining', { name: labels.name, bytes, mediaNames: media.map((f) => f.name) });
        if (!plan.rows.length) {
          // Say what did not match, not only that nothing can be learnt.
          const first = plan.problems[0] ? ` ${t('forExample')}: ${sayRow(plan.problems[0])}` : '';
          throw { message: `${t('noRowMatched').replace('{n}', plan.problems.length).replace('{m}', media.length)}${first}` };
        }
        // Each labelled row as the core read it; which head it teaches, and the
        // message about it, are the core's (the CLI's train follows the same rules).
        const creatives = [];
        for (const [i, row] of plan.rows.entries()) {
          showProgress(box, i, plan.rows.length, t('transcribing'));
          const label = { row: row.row, id: row.id, segment: row.segment };
          try {
            // Classifying reads the transcript, the on-screen text where the
            // screen mode reads it and, with the vision branch on, the video embedding.
            const next = plan.rows[i + 1];
            const r = await cf.classify(media[row.media], next && media[next.media]);
            creatives.push({
              ...label, text: r.transcript || '', speech: r.speech, no_speech_prob: r.no_speech_prob, hash: r.content_hash,
              screen: r.screen_text,
            });
          } catch (e) {
            creatives.push({ ...label, error: failureMessage(e) });
          }
        }
        result = await cf.call('trainCreatives', { creatives, setAside: plan.problems });
      }
      cf.remember('loadHead', { bytes: await cf.call('headFile') });
      showProgress(box, 1, 1, t('done'));
      renderReport(result);
      applyClassifier(await cf.call('classifierState'));
    } catch (e) {
      toast(errorText(e));
    } finally {
      $('train-run').disabled = false;
    }
  });

  function renderReport(result) {
    $('train-report').hidden = false;
    $('train-summary').textContent = `${t('trainedOn')} ${result.examples} · ${result.segments} ${t('segmentsWord')} · ${result.seconds.toFixed(2)} ${t('seconds')}`;
    const weight = (f) => `σ(${f.bias.toFixed(2)} + ${f.per_log_word.toFixed(2)}·ln(1+words) − ${f.no_speech.toFixed(2)}·p_no_speech)`;
    const v = result.vision;
    $('train-vision').hidden = !v;
    if (v) {
      const f1 = v.evaluation ? ` · macro-F1 ${v.evaluation.report.macro_avg.f1.toFixed(3)}` : '';
      const fusion = v.calibrated_on ? `${t('fusionCalibrated')} ${v.calibrated_on}: ${weight(v.fusion)}` : t('fusionDefault');
      $('train-vision').textContent = `${t('visionHead')}: ${v.examples}${f1}. ${fusion}`;
    }
    const s = result.screen;
    $('train-screen').hidden = !s;
    if (s) {
      const fusion = s.calibrated_on ? `${t('screenCalibrated')} ${s.calibrated_on}: ${weight(s.fusion)}` : t('screenDefault');
      $('train-screen').textContent = `${t('screenExamples')}: ${s.examples}. ${fusion}`;
    }
    const table = $('report-table');
    table.replaceChildren();
    const ev = result.evaluation;
    if (ev) {
      const r = ev.report;
      const headers = ['', t('precision'), t('recall'), 'F1', t('support')];
      table.append(el('tr', {}, ...headers.map((h, i) => el('th', { className: i ? 'num' : '' }, h))));
      const num = (v) => el('td', { className: 'num' }, typeof v === 'number' ? v.toFixed(4) : '');
      const support = (n) => el('td', { className: 'num' }, String(n));
      for (const c of r.classes) table.append(el('tr', {}, el('td', {}, `${c.label} ${c.name || ''}`), num(c.precision), num(c.recall), num(c.f1), support(c.support)));
      table.append(el('tr', { className: 'sum' }, el('td', {}, t('accuracy')), num(null), num(null), num(r.accuracy), support(r.n_samples)));
      for (const [name, avg] of [[t('macroAvg'), r.macro_avg], [t('weightedAvg'), r.weighted_avg]]) {
        table.append(el('tr', { className: 'sum' }, el('td', {}, name), num(avg.precision), num(avg.recall), num(avg.f1), support(r.n_samples)));
      }
      if (ev.roc_auc.macro_avg != null) table.append(el('tr', { className: 'sum' }, el('td', {}, 'ROC-AUC (OvR, macro)'), num(null), num(null), num(ev.roc_auc.macro_avg), num(null)));
      renderConfusion(ev.confusion);
    }
    const list = $('train-problems').querySelector('ul');
    list.replaceChildren(...result.problems.map((p) => el('li', {}, sayRow(p))));
    $('train-problems').hidden = result.problems.length === 0;
  }

  // The confusion matrix as a heat map: rows true, columns predicted, each
  // cell shaded by its share of the row.
  function renderConfusion({ labels, counts: matrix }) {
    const name = (id) => (segments().find((s) => s.id === id) || {}).name || '';
    const grid = el('table', { className: 'heat' });
    grid.append(el('tr', {}, el('th', {}, ''), ...labels.map((l) => el('th', { title: name(l) }, String(l)))));
    matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      grid.append(el('tr', {}, el('th', { title: name(labels[i]) }, String(labels[i])), ...row.map((v, j) => {
        const cell = el('td', { title: `${name(labels[i])} → ${v}` }, v ? String(v) : '');
        cell.style.setProperty('--share', (v / total).toFixed(3));
        if (i === j) cell.classList.add('diag');
        if (v / total > 0.5) cell.classList.add('dark');
        return cell;
      })));
    });
    $('confusion').replaceChildren(grid);
  }

  $('head-save').addEventListener('click', async () => {
    const bytes = await cf.call('headFile');
    if (bytes) download(bytes, 'head.json');
  });
  $('head-load').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    try {
      const args = { bytes: new Uint8Array(await file.arrayBuffer()) };
      applyClassifier(await cf.call('loadHead', args));
      cf.remember('loadHead', args);
    } catch (err) {
      toast(errorText(err));
    }
  });
  $('head-reset').addEventListener('click', async () => {
    applyClassifier(await cf.call('clearHead'));
    cf.remember('clearHead');
  });
}
