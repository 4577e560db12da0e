// The one request/answer protocol between the page and its workers (the
// models' worker.js and the dashboard's dashboard-worker.js):
//
//   page → worker   {call, method, args}
//   worker → page   {call, result} | {call, error: {code, message}}
//                   (worker.js adds `fatal: true` when it must be replaced)
//                   {event, …} for progress and requests of the worker's own

/** The page's side: numbered calls answered by promises. */
export class WorkerRpc {
  /**
   * @param {Worker} worker
   * @param {{onEvent?: (data: object) => void, onAnswer?: (data: object) => void}} hooks
   *   `onEvent` gets the `{event}` messages; `onAnswer` every answer, after its promise is settled.
   */
  constructor(worker, { onEvent = () => {}, onAnswer = () => {} } = {}) {
    this.worker = worker;
    this.pending = new Map();
    this.next = 1;
    worker.onmessage = ({ data }) => {
      if (data.event) return onEvent(data);
      const pending = this.pending.get(data.call);
      if (!pending) return;
      this.pending.delete(data.call);
      if (data.error) pending.reject(data.error);
      else pending.resolve(data.result);
      onAnswer(data);
    };
  }

  /** Calls a worker method; resolves with its result or rejects with {code, message}. */
  call(method, args, transfer = []) {
    const call = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(call, { resolve, reject });
      this.worker.postMessage({ call, method, args }, transfer);
    });
  }

  /** Rejects every call still waiting (the worker died or was replaced). */
  failAll(error) {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

/** A thrown value as the `{code, message, said}` the page shows (`said`: the core's message, when it came from the core). */
export function errorOf(e, code = 'internal') {
  if (!(e && e.code)) return { code, message: String((e && e.message) || e) };
  return { code: e.code, message: e.message, ...(e.said ? { said: e.said } : {}) };
}
