// Combines the alternating passes of scripts/bench-onnx.sh (ORT pass 1, edgeq pass 1, ORT pass 2, ...):
// per (model, batch, threads) each side keeps its best (lowest) per-pass p50, so a load spike on a shared
// machine during one side's pass does not decide the ratio. Prints the markdown table and writes the JSON.
// Usage: node combine_passes.js OUT.json onnx_speed.1.json onnx_speed.2.json ...
'use strict';
const fs = require('fs');
const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: combine_passes.js OUT.json onnx_speed.N.json...');
  process.exit(2);
}
const cells = new Map();  // key -> {model, batch, threads, edgeq: [...], ort: [...]}
const order = [];
let isa = '', ort_version = '';
for (const f of inputs) {
  const j = JSON.parse(fs.readFileSync(f, 'utf8'));
  isa = j.isa || isa;
  ort_version = j.onnxruntime || ort_version;
  for (const r of j.results) {
    const key = `${r.model}|${r.batch}|${r.threads}`;
    if (!cells.has(key)) {
      cells.set(key, {model: r.model, batch: r.batch, threads: r.threads, edgeq: [], ort: []});
      order.push(key);
    }
    const c = cells.get(key);
    if (typeof r.p50_ms === 'number') c.edgeq.push(r.p50_ms);
    if (typeof r.ort_p50_ms === 'number') c.ort.push(r.ort_p50_ms);
  }
}
const fmt = (v) => (v === null ? 'n/a' : v < 1 ? v.toFixed(4) : v.toFixed(3));
const rows = [];
let worst = null;
console.log(`\nbest of ${inputs.length} alternating passes per side (edgeq ISA ${isa}, ONNX Runtime ${ort_version})\n`);
console.log('| model | batch | threads | edgeq p50 ms | ORT p50 ms | edgeq/ORT |');
console.log('|---|---|---|---|---|---|');
for (const key of order) {
  const c = cells.get(key);
  const e = c.edgeq.length ? Math.min(...c.edgeq) : null;
  const o = c.ort.length ? Math.min(...c.ort) : null;
  const ratio = e !== null && o !== null ? e / o : null;
  console.log(`| ${c.model} | ${c.batch} | ${c.threads} | ${fmt(e)} | ${fmt(o)} | ${ratio === null ? '-' : ratio.toFixed(2)} |`);
  rows.push({model: c.model, batch: c.batch, threads: c.threads, p50_ms: e, ort_p50_ms: o, ratio,
             edgeq_passes: c.edgeq, ort_passes: c.ort});
  if (ratio !== null && (worst === null || ratio > worst.ratio)) worst = {ratio, c};
}
if (worst) {
  console.log(`\nslowest relative to ORT: ${worst.c.model} batch ${worst.c.batch} threads ${worst.c.threads} at ` +
              `${worst.ratio.toFixed(2)}x (goal: <= 1.5x)`);
}
fs.writeFileSync(out, JSON.stringify({isa, onnxruntime: ort_version, passes: inputs.length, results: rows}, null, 1));
