// Serves the built page (dist/) on localhost with the headers it needs:
// COOP/COEP (cross-origin isolation, for shared memory), a
// Content-Security-Policy that keeps every request on this origin, and
// no-cache so a rebuilt module is picked up (the models are cached by the
// page itself, keyed by their sha256).
//
//   node scripts/serve.mjs [--port 8080] [--dir dist] [--no-isolation]
//
// --no-isolation leaves out COOP/COEP, as a host that cannot set headers or
// an embedding site would: the page then runs its portable one-thread module.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const root = resolve(arg('dir', 'dist'));
const port = Number(arg('port', process.env.PORT || 8080));

const ISOLATION = process.argv.includes('--no-isolation') ? {} : {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
const HEADERS = {
  ...ISOLATION,
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.gguf': 'application/octet-stream',
  '.ogg': 'audio/ogg', '.png': 'image/png', '.svg': 'image/svg+xml',
};

const server = createServer((req, res) => {
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  // Inside the served folder only: a prefix test would let `../dist-other/` through.
  let file = resolve(join(root, path));
  const inside = relative(root, file);
  if (inside.split(sep)[0] === '..' || isAbsolute(inside)) {
    res.writeHead(403).end();
    return;
  }
  let stat;
  try {
    stat = statSync(file);
    if (stat.isDirectory()) {
      file = join(file, 'index.html');
      stat = statSync(file);
    }
  } catch {
    res.writeHead(404, HEADERS).end('not found');
    return;
  }
  res.writeHead(200, { ...HEADERS, 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Content-Length': stat.size });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`Creative Filter: http://localhost:${server.address().port}/  (serving ${root}; Ctrl+C stops)`);
});
