// <creative-filter>: a drop target that classifies the creatives dropped on
// (or picked into) it and shows one line per file. Other sites embed it with
//
//   <script type="module" src="/js/element.js"></script>
//   <creative-filter></creative-filter>
//
// and listen for `result` events ({detail: report}) or call
// `element.classify(file)`. The models are served from the same origin.
import { CreativeFilter } from './api.js';

const STYLE = `
  :host { display: block; font: 14px/1.4 system-ui, sans-serif; }
  .zone { border: 2px dashed #b8c0cc; border-radius: 8px; padding: 1rem; text-align: center; }
  .zone.over { border-color: #2459d6; background: #eef3ff; }
  ul { list-style: none; padding: 0; margin: 0.5rem 0 0; }
  li { padding: 0.25rem 0; border-bottom: 1px solid #e5e8ee; }
  .error { color: #b3261e; }
  .muted { color: #6b7385; }
`;

class CreativeFilterElement extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    const style = new CSSStyleSheet();
    style.replaceSync(STYLE);
    root.adoptedStyleSheets = [style];
    const zone = document.createElement('label');
    zone.className = 'zone';
    const hint = document.createElement('span');
    hint.textContent = this.getAttribute('label') || 'Drop a creative here or click to choose one';
    const input = document.createElement('input');
    input.type = 'file';
    input.multiple = true;
    input.hidden = true;
    this.status = document.createElement('div');
    this.status.className = 'muted';
    this.status.textContent = 'loading the models…';
    this.list = document.createElement('ul');
    zone.append(hint, input);
    root.append(zone, this.status, this.list);
    input.addEventListener('change', () => this.classifyAll([...input.files]));
    zone.addEventListener('dragover', (e) => (e.preventDefault(), zone.classList.add('over')));
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      this.classifyAll([...e.dataTransfer.files]);
    });
    this.filter = new CreativeFilter();
    this.filter.ready.then(
      ({ engine }) => (this.status.textContent = engine.module === 'threaded'
        ? `ready: everything runs on this machine, on ${engine.threads} threads`
        : 'ready: everything runs on this machine, on one thread (the embedding page is not cross-origin isolated: see the COOP/COEP headers in the README)'),
      (e) => (this.status.textContent = `the models did not load: ${e.message || e}`),
    );
  }

  disconnectedCallback() {
    if (this.filter) this.filter.worker.terminate();
    this.filter = null;
  }

  /** Classifies one file: resolves with its report (see api.js). */
  classify(file) {
    return this.filter.classify(file);
  }

  async classifyAll(files) {
    for (const file of files) {
      const line = document.createElement('li');
      line.textContent = `${file.name}: …`;
      this.list.append(line);
      try {
        const r = await this.classify(file);
        line.textContent = r.segment_id != null
          ? `${file.name}: ${r.segment_id} ${r.segment_name} (${(r.confidence * 100).toFixed(0)}%)`
          : `${file.name}: ${r.note || 'no segment'}`;
        this.dispatchEvent(new CustomEvent('result', { detail: r }));
      } catch (e) {
        line.className = 'error';
        line.textContent = `${file.name}: ${e.message || e}`;
        this.dispatchEvent(new CustomEvent('failure', { detail: { file: file.name, ...e } }));
      }
    }
  }
}

customElements.define('creative-filter', CreativeFilterElement);
