// The page's wording of failures (www/js/ui.js, www/js/i18n.js) under
// node --test: a failure the page reports itself (too large, timed out, the
// module restarted) is kept as a message with its code, so the results
// table words it anew when the language changes, as it does the core's;
// every code the core says has its Russian wording, rows of the users'
// tables included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const stored = new Map();
globalThis.localStorage = { getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => stored.set(k, String(v)) };
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { failureReport, errorText } = await import('../../www/js/ui.js');
const { worded, toggleLanguage, language, say, sayRow } = await import('../../www/js/i18n.js');

const cyrillic = /[А-Яа-яЁё]/;

test("the page's own failures are worded in the language of the moment, not the one they happened in", () => {
  assert.equal(language(), 'ru');
  const timeout = { code: 'timeout', message: 'no result after 10 minutes; the file was skipped' };
  const crashed = { code: 'crashed', message: 'RuntimeError: memory access out of bounds' };
  const tooLarge = { code: 'too-large', message: '1.2 GB is more than the page reads (1 GB)' };
  const reports = [timeout, crashed, tooLarge].map((e, i) => failureReport(`f${i}.mp4`, `f${i}`, e));
  for (const r of reports) {
    assert.match(r.error, cyrillic, `Russian when it failed: ${r.error}`);
    assert.equal(worded(r).error, r.error, 'the same words while the language stays');
  }
  toggleLanguage();
  assert.equal(language(), 'en');
  const english = reports.map((r) => worded(r).error);
  for (const e of english) assert.doesNotMatch(e, cyrillic, `English after the switch: ${e}`);
  assert.equal(english[0], timeout.message, 'the English wording is the page\'s own message');
  assert.equal(english[1], errorText(crashed), 'a crash reads as the page says it, out of memory here');
  toggleLanguage();
  assert.deepEqual(reports.map((r) => worded(r).error), reports.map((r) => r.error), 'and back in Russian');
});

test("the core's messages keep their codes and values", () => {
  const said = { code: 'no-audio', params: {}, text: 'no audio track' };
  const r = failureReport('a.mp4', 'a', { code: 'no-audio', message: 'no audio track', said });
  assert.deepEqual(r.said.error, said);
});

// Every `Message::new("code", …)`, `Message::because("code", …)` and
// `Error::message`'s `m("code")` in the core, outside its unit tests.
function coreCodes(dir = new URL('../../src/', import.meta.url).pathname) {
  const codes = new Set();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) coreCodes(path).forEach((c) => codes.add(c));
    else if (entry.name.endsWith('.rs')) {
      const source = readFileSync(path, 'utf8').split('#[cfg(test)]')[0];
      for (const m of source.matchAll(/(?:Message::new|Message::because|\bm)\(\s*"([a-z][a-z0-9-]*)"/g)) codes.add(m[1]);
    }
  }
  return codes;
}

test('every code the core says has a Russian wording', () => {
  const codes = coreCodes();
  assert.ok(codes.size > 60 && codes.has('no-audio') && codes.has('label-conflict'), `${codes.size} codes found`);
  assert.equal(language(), 'ru');
  const unworded = [...codes].filter((code) => say({ code, params: {}, text: '\u0000' }) === '\u0000');
  assert.deepEqual(unworded, []);
});

test("a row of the users' tables is worded with its number, ID and reason, and its cause", () => {
  const reason = {
    code: 'vision-head-only', text: 'used for the vision head only: no speech', cause: { code: 'nothing-said', text: 'no speech' },
  };
  assert.equal(sayRow({ row: 5, id: '300', reason }), 'Строка 5: ID 300: использован только видеомоделью: нет речи');
  const month = { row: 4, id: '7', reason: { code: 'bad-month', params: { value: '13' }, text: 'month "13" is not a month number or name' }, file: 'a.csv' };
  assert.equal(sayRow(month), 'a.csv: Строка 4: ID 7: месяц «13» — не номер и не название месяца');
  toggleLanguage();
  assert.equal(sayRow(month), 'a.csv: Row 4: ID 7: month "13" is not a month number or name');
  toggleLanguage();
});
