// The page's wording of failures (www/js/ui.js, www/js/i18n.js) under
// node --test: a failure the page reports itself (too large, timed out, the
// module restarted) is kept as a message with its code, so the results
// table words it anew when the language changes, as it does the core's.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const stored = new Map();
globalThis.localStorage = { getItem: (k) => stored.get(k) ?? null, setItem: (k, v) => stored.set(k, String(v)) };
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { failureReport, errorText } = await import('../../www/js/ui.js');
const { worded, toggleLanguage, language } = await import('../../www/js/i18n.js');

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
