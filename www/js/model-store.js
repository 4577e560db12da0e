// The models in the browser: the site's model files, checked against
// models/manifest.json, and an X-CLIP model the user imported, kept in the
// Cache API under their sha256. The file names are the core's
// (`modelFiles()` of the module), so the page and `models fetch` agree.

const MODEL_CACHE = 'creative-filter-models';

// What an imported X-CLIP model is kept as.
export const IMPORTED_VISION = new URL('../models/imported/xclip.json', import.meta.url).href;
export const importedKey = (file, sha) => new URL(`../models/imported/${file}?sha256=${sha}`, import.meta.url).href;

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

export async function openCache() {
  try {
    return self.caches ? await caches.open(MODEL_CACHE) : null;
  } catch {
    return null; // storage disabled (private mode): download every visit
  }
}

// One model file: from the Cache API when its hash matches the manifest,
// else downloaded with `progress`, verified, and cached under its hash.
export async function modelFile(entry, cache, progress) {
  const url = new URL(`../models/${entry.file}`, import.meta.url);
  const key = `${url.href}?sha256=${entry.sha256}`;
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if ((await sha256(bytes)) === entry.sha256) {
        progress({ model: entry.file, loaded: entry.bytes, total: entry.bytes, source: 'cache' });
        return { bytes, source: 'cache' };
      }
      await cache.delete(key);
    }
  }
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw { code: 'model', message: `${entry.file}: HTTP ${response.status}` };
  const total = entry.bytes;
  const bytes = new Uint8Array(total);
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // A server that labels a .gz file "Content-Encoding: gzip" has the
    // browser inflate it on the way: say so, not just that the hash differs.
    if (loaded === 0 && value.length >= 2 && entry.file.endsWith('.gz') && !(value[0] === 0x1f && value[1] === 0x8b)) {
      throw { code: 'model', message: `${entry.file} arrived already inflated: the server sends it with "Content-Encoding: gzip"; serve .gz model files as they are` };
    }
    if (loaded + value.length > total) throw { code: 'model', message: `${entry.file} is larger than the manifest says` };
    bytes.set(value, loaded);
    loaded += value.length;
    progress({ model: entry.file, loaded, total, source: 'network' });
  }
  if (loaded !== total) throw { code: 'model', message: `${entry.file}: ${loaded} of ${total} bytes arrived` };
  if ((await sha256(bytes)) !== entry.sha256) throw { code: 'model', message: `${entry.file}: checksum does not match the manifest` };
  if (cache) {
    // Older versions of this file are dropped so the cache does not grow.
    for (const old of await cache.keys()) if (old.url.startsWith(`${url.href}?`)) await cache.delete(old);
    try {
      await cache.put(key, new Response(bytes));
    } catch {
      // quota exceeded: it still works, it is just downloaded again next time
    }
  }
  return { bytes, source: 'network' };
}

// Model files earlier versions of the page cached under other names (96 MB
// of a returning visitor's storage quota otherwise).
export async function dropSupersededFiles(cache, superseded) {
  const prefixes = superseded.map((f) => `${new URL(`../models/${f}`, import.meta.url).href}?`);
  for (const key of await cache.keys()) if (prefixes.some((p) => key.url.startsWith(p))) await cache.delete(key);
}

export async function forgetImported(cache) {
  const prefix = new URL('../models/imported/', import.meta.url).href;
  for (const key of await cache.keys()) if (key.url.startsWith(prefix)) await cache.delete(key);
}
