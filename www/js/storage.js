// What the page keeps across visits, in the browser's IndexedDB (this
// origin only, nothing leaves the machine): the results table's rows (main
// thread) and the core's cache of transcripts and embeddings (worker), so a
// reload shows the table again and a file classified before is answered
// without transcribing it again. Where storage is unavailable (private
// windows, disabled storage) every call quietly does nothing and the page
// works for this visit only.
const DB_NAME = 'creative-filter';
const DB_VERSION = 1;
/** The results table: one record per finished file, keyed by `seq`. */
export const RESULTS = 'results';
/** The core's cache: key (`heard/…`, `embedding/…`) → bytes. */
export const FEATURES = 'features';

let opening = null;

/** The database, or null where the browser keeps none. */
export function openDb() {
  opening ??= new Promise((resolve) => {
    let request;
    try {
      request = self.indexedDB && indexedDB.open(DB_NAME, DB_VERSION);
    } catch {
      request = null;
    }
    if (!request) return resolve(null);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(RESULTS)) db.createObjectStore(RESULTS, { keyPath: 'seq' });
      if (!db.objectStoreNames.contains(FEATURES)) db.createObjectStore(FEATURES);
    };
    request.onsuccess = () => {
      const db = request.result;
      // Another tab upgrading the database: let it, and open again next time.
      db.onversionchange = () => {
        db.close();
        opening = null;
      };
      resolve(db);
    };
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
  return opening;
}

const settled = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error || new Error('the browser refused to store it'));
  });

const answer = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/** Every record of a store as `[key, value]`, in key order. */
export async function readAll(store) {
  const db = await openDb();
  if (!db) return [];
  const tx = db.transaction(store, 'readonly');
  const [keys, values] = await Promise.all([answer(tx.objectStore(store).getAllKeys()), answer(tx.objectStore(store).getAll())]);
  return keys.map((k, i) => [k, values[i]]);
}

/**
 * Writes `[key, value]` pairs in one transaction (key null for stores whose
 * records carry their own key). Rejects when the browser refuses (quota).
 */
export async function putAll(store, entries) {
  const db = await openDb();
  if (!db || !entries.length) return;
  const tx = db.transaction(store, 'readwrite');
  const s = tx.objectStore(store);
  for (const [key, value] of entries) (key == null ? s.put(value) : s.put(value, key));
  await settled(tx);
}

/** Removes these keys from a store. */
export async function removeAll(store, keys) {
  const db = await openDb();
  if (!db || !keys.length) return;
  const tx = db.transaction(store, 'readwrite');
  for (const key of keys) tx.objectStore(store).delete(key);
  await settled(tx);
}

/** Empties a store. */
export async function clearStore(store) {
  const db = await openDb();
  if (!db) return;
  const tx = db.transaction(store, 'readwrite');
  tx.objectStore(store).clear();
  await settled(tx);
}

/** How much this origin keeps (models included), in bytes, where the browser says. */
export async function storageUse() {
  try {
    const { usage, quota } = await navigator.storage.estimate();
    return { usage, quota };
  } catch {
    return null;
  }
}
