// The embedding example's only script: shows the element's `result` events.
document.getElementById('demo').addEventListener('result', (/** @type {CustomEvent} */ { detail }) => {
  document.getElementById('last').textContent = JSON.stringify({ id: detail.id, segment_id: detail.segment_id, confidence: detail.confidence });
});
