// One thread of the threaded module's kernel pool (started by worker.js):
// instantiates the module on the shared memory, says so, then runs the
// thread rayon hands it (src/web/threads.rs) until the page goes away.
self.onmessage = async ({ data: { script, module, memory, stack } }) => {
  const bindings = await import(script);
  await bindings.default({ module_or_path: module, memory, thread_stack_size: stack });
  self.postMessage('ready');
  bindings.threadPoolWork();
};
