const j = JSON.parse((await import('node:fs')).readFileSync('/tmp/scale-s3-lists.json', 'utf8'));
const port = process.argv[2] || j.port; const n = Number(process.argv[3] ?? 200);
const path = process.argv[4] ?? `/volume/v3/${j.projectId}/volumes/detail?limit=100`;
const ts = [];
for (let i = 0; i < n; i++) { const t0 = performance.now(); const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-auth-token': j.token } }); await r.text(); if (r.status !== 200) throw new Error(r.status); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b); const p = (q) => ts[Math.min(ts.length - 1, Math.floor(q * ts.length))].toFixed(1);
console.log(`n ${n} p50 ${p(0.5)} p90 ${p(0.9)} p99 ${p(0.99)} max ${ts[ts.length-1].toFixed(1)}`);
