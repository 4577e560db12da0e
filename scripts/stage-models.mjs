// Trunk post-build hook: copies the model files models/manifest.json lists
// (and the manifest) into the staged site's models/ folder. Hard links where
// the file system allows, since the models are large.
import { copyFileSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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
const out = join(staging, 'models');
mkdirSync(out, { recursive: true });
for (const file of ['manifest.json', ...manifest.files.map((f) => f.file)]) {
  const to = join(out, file);
  rmSync(to, { force: true });
  try {
    linkSync(join(models, file), to);
  } catch {
    copyFileSync(join(models, file), to);
  }
}
console.log(`staged ${manifest.files.length} model files from ${models}`);
