// The page's RPC client (www/js/rpc.js) and the classifier's API over it
// (www/js/api.js) under node --test, with a stand-in for the browser's
// Worker: calls are answered by their number, a fatal answer rejects what
// was pending and starts a new worker, and the settings the user made
// (dictionary, head) are replayed on it by the replay rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** Records what the page posts; the test answers as the worker would. */
class FakeWorker {
  static all = [];
  constructor(url, options) {
    this.url = String(url);
    this.options = options;
    this.posted = [];
    this.terminated = false;
    FakeWorker.all.push(this);
  }
  postMessage(message) {
    this.posted.push(message);
  }
  terminate() {
    this.terminated = true;
  }
  /** Answers the call to `method` posted last. */
  answer(method, reply) {
    const msg = [...this.posted].reverse().find((m) => m.method === method);
    assert.ok(msg, `${method} was called`);
    this.onmessage({ data: { call: msg.call, ...reply } });
  }
  methods() {
    return this.posted.map((m) => m.method);
  }
}
globalThis.Worker = FakeWorker;
const { CreativeFilter } = await import('../../www/js/api.js');
const { WorkerRpc, errorOf } = await import('../../www/js/rpc.js');

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function fresh() {
  FakeWorker.all = [];
  const cf = new CreativeFilter();
  return { cf, worker: () => FakeWorker.all.at(-1) };
}

test('a call resolves with its own answer, whatever the order of the answers', async () => {
  const { cf, worker } = fresh();
  assert.equal(worker().options.type, 'module');
  worker().answer('init', { result: { threads: 2 } });
  assert.deepEqual(await cf.ready, { threads: 2 });
  const a = cf.call('segments');
  const b = cf.call('classifierState');
  worker().answer('classifierState', { result: 'trained' });
  worker().answer('segments', { result: [12, 15] });
  assert.deepEqual(await Promise.all([a, b]), [[12, 15], 'trained']);
  assert.equal(cf.rpc.pending.size, 0, 'nothing left pending');
});

test('an error answer rejects with its {code, message}', async () => {
  const { cf, worker } = fresh();
  const p = cf.call('setDictionary', { name: 'segment_dict.csv' });
  worker().answer('setDictionary', { error: { code: 'invalid', message: 'no column for the segment id' } });
  await assert.rejects(p, { code: 'invalid', message: 'no column for the segment id' });
});

test('a fatal answer restarts the worker: pending calls fail, settings are replayed', async () => {
  const { cf, worker } = fresh();
  const first = worker();
  const events = [];
  cf.addEventListener('restart', () => events.push('restart'));
  cf.remember('setDictionary', { name: 'segment_dict.csv', bytes: 'd' });
  cf.remember('loadHead', { bytes: 'h1' });
  cf.remember('loadHead', { bytes: 'h2' });
  const pending = cf.call('segments');
  const crashing = cf.call('classify', { id: 1 });
  first.answer('classify', { error: { code: 'panic', message: 'unreachable' }, fatal: true });
  await assert.rejects(crashing, { code: 'panic' });
  await assert.rejects(pending, { code: 'crashed' });
  assert.deepEqual(events, ['restart']);
  assert.ok(first.terminated);
  const second = worker();
  assert.notEqual(second, first);
  // The new worker starts; once its models are loaded (it refuses calls
  // before) it gets the dictionary, then the latest head only, and the page
  // is told the state they leave.
  assert.deepEqual(second.methods(), ['init']);
  second.answer('init', { result: { segments: [1, 2], classifier: 'zero-shot', threads: 2 } });
  await tick();
  assert.deepEqual(second.methods(), ['init', 'setDictionary']);
  second.answer('setDictionary', { result: { segments: [12, 15], classifier: 'zero-shot' } });
  await tick();
  assert.deepEqual(second.methods(), ['init', 'setDictionary', 'loadHead']);
  assert.deepEqual(second.posted[2].args, { bytes: 'h2' });
  second.answer('loadHead', { result: { segments: [12, 15], classifier: 'trained' } });
  assert.deepEqual(await cf.ready, { segments: [12, 15], classifier: 'trained', threads: 2 });
});

test('the device the page chose starts the worker, and a restarted worker starts on the one chosen since', async () => {
  FakeWorker.all = [];
  const cf = new CreativeFilter({ device: 'cpu' });
  const first = FakeWorker.all.at(-1);
  assert.deepEqual(first.posted[0].args, { device: 'cpu' });
  first.answer('init', { result: { device: { choice: 'cpu', device: 'cpu (wasm-simd128)', problem: null } } });
  const switched = cf.setDevice('gpu');
  await tick();
  first.answer('setDevice', { result: { device: { choice: 'gpu', device: 'gpu: SwiftShader (webgpu, CPU emulation)', problem: null } } });
  assert.equal((await switched).device, 'gpu: SwiftShader (webgpu, CPU emulation)');
  const crashing = cf.call('classify', { id: 1 });
  first.answer('classify', { error: { code: 'panic', message: 'unreachable' }, fatal: true });
  await assert.rejects(crashing, { code: 'panic' });
  const second = FakeWorker.all.at(-1);
  assert.notEqual(second, first);
  assert.deepEqual(second.posted[0], { call: second.posted[0].call, method: 'init', args: { device: 'gpu' } });
});

test('a setting the new worker refuses is reported, and the others are still replayed', async () => {
  const { cf, worker } = fresh();
  const failures = [];
  cf.addEventListener('failure', (e) => failures.push(e.detail));
  cf.remember('setDictionary', { name: 'segment_dict.csv', bytes: 'd' });
  cf.remember('setScreenText', { mode: 'off' });
  worker().answer('init', { result: { segments: [1] } });
  cf.restart();
  const second = worker();
  second.answer('init', { result: { segments: [1] } });
  await tick();
  second.answer('setDictionary', { error: { code: 'table', message: 'no id column' } });
  await tick();
  assert.deepEqual(second.methods(), ['init', 'setDictionary', 'setScreenText']);
  second.answer('setScreenText', { result: { screen: { mode: 'off' } } });
  assert.deepEqual(await cf.ready, { segments: [1], screen: { mode: 'off' } });
  assert.deepEqual(failures, [{ code: 'table', message: 'no id column' }]);
});

test('replay rules: clearing the head or the dictionary forgets it, a new head replaces a cleared one', () => {
  const { cf } = fresh();
  cf.remember('loadHead', { bytes: 'h' });
  cf.remember('clearHead', {});
  assert.deepEqual(cf.replay, [], 'a cleared head is not loaded again');
  cf.remember('clearHead', {});
  cf.remember('loadHead', { bytes: 'h3' });
  assert.deepEqual(cf.replay, [['loadHead', { bytes: 'h3' }]]);
  cf.remember('setDictionary', { name: 'a' });
  cf.remember('setDictionary', { name: 'b' });
  assert.deepEqual(cf.replay.map(([m, a]) => [m, a.name ?? a.bytes]), [['loadHead', 'h3'], ['setDictionary', 'b']]);
  // A reset dictionary must stay reset in a worker started after a crash.
  cf.remember('resetDictionary', {});
  assert.deepEqual(cf.replay.map(([m]) => m), ['loadHead']);
});

test('progress events reach listeners without touching the calls', () => {
  const { cf, worker } = fresh();
  const seen = [];
  cf.addEventListener('progress', (e) => seen.push(e.detail.loaded));
  worker().onmessage({ data: { event: 'progress', loaded: 5 } });
  assert.deepEqual(seen, [5]);
  assert.equal(cf.rpc.pending.size, 1, 'init still pending');
});

test('the dashboard\'s protocol: arguments as a list, events apart, a dead worker fails what waits', async () => {
  const worker = new FakeWorker('dashboard-worker.js');
  const events = [];
  const rpc = new WorkerRpc(worker, { onEvent: (d) => events.push(d.progress.rows) });
  const view = rpc.call('view', [{}, 'ru', [], true]);
  const read = rpc.call('readSpend', ['file']);
  assert.deepEqual(worker.posted.map((m) => [m.call, m.method, m.args.length]), [[1, 'view', 4], [2, 'readSpend', 1]]);
  worker.onmessage({ data: { event: 'progress', progress: { rows: 100 } } });
  worker.answer('view', { result: { charts: [] } });
  assert.deepEqual(await view, { charts: [] });
  assert.deepEqual(events, [100]);
  rpc.failAll({ code: 'crashed', message: 'out of memory' });
  await assert.rejects(read, { code: 'crashed' });
  // A late answer to a failed call is ignored.
  worker.onmessage({ data: { call: 2, result: 1 } });
  assert.equal(rpc.pending.size, 0);
});

test('errors cross as {code, message}', () => {
  assert.deepEqual(errorOf({ code: 'not-media', message: 'x', stack: 's' }), { code: 'not-media', message: 'x' });
  assert.deepEqual(errorOf(new Error('boom')), { code: 'internal', message: 'boom' });
  assert.deepEqual(errorOf('trap', 'crashed'), { code: 'crashed', message: 'trap' });
});
