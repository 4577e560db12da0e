// Trunk post-build hook: copies the model files models/manifest.json lists
// that the page runs (and their manifest) into the staged site's models/ folder. Hard links where
// the file system allows, since the models are large.
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.env.TRUNK_SOURCE_DIR || process.cwd();
const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) throw new Error('TRUNK_STAGING_DIR is not set: run this from trunk');
const models = process.env.CREATIVE_FILTER_MODELS || join(root, 'models');
let manifest;
try {
  manifest = JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8'));
} catch (e) {
  console.error(`no prepared models in ${models} (run: creative-filter models fetch): ${e.message}`);
  process.exit(1);
}
// Every model the page runs; Tesseract's traineddata among them, which the
// page fetches only when a creative's picture is first read.
const staged = manifest;
const out = join(staging, 'models');
mkdirSync(out, { recursive: true });
rmSync(join(out, 'manifest.json'), { force: true });
writeFileSync(join(out, 'manifest.json'), JSON.stringify(staged, null, 2));
for (const file of staged.files.map((f) => f.file)) {
  const to = join(out, file);
  rmSync(to, { force: true });
  try {
    linkSync(join(models, file), to);
  } catch {
    copyFileSync(join(models, file), to);
  }
}
console.log(`staged ${staged.files.length} model files from ${models}`);
