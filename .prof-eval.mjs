import { WebSocket } from 'undici';
const ws = new WebSocket(process.argv[2]); let id = 0; const pending = new Map();
const send = (method, params = {}) => new Promise((res) => { const i = ++id; pending.set(i, res); ws.send(JSON.stringify({ id: i, method, params })); });
ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.id && pending.has(m.id)) { pending.get(m.id)(m.result); pending.delete(m.id); } };
ws.onopen = async () => {
  const expr = `(() => { const orig = globalThis.setTimeout; const seen = new Map(); globalThis.__seen = seen;
    globalThis.setTimeout = function (fn, ms, ...rest) { if (ms !== undefined && ms <= 20) { const k = ms + ' ' + new Error().stack.split('\\n').slice(2, 7).join(' | '); seen.set(k, (seen.get(k) ?? 0) + 1); } return orig.call(this, fn, ms, ...rest); };
    const origI = globalThis.setInterval; globalThis.setInterval = function (fn, ms, ...rest) { const k = 'interval ' + ms + ' ' + new Error().stack.split('\\n').slice(2, 5).join(' | '); seen.set(k, (seen.get(k) ?? 0) + 1); return origI.call(this, fn, ms, ...rest); };
    return 'ok'; })()`;
  console.log(await send('Runtime.evaluate', { expression: expr }));
  await new Promise((r) => setTimeout(r, 2000));
  const r = await send('Runtime.evaluate', { expression: 'JSON.stringify([...globalThis.__seen])' });
  console.log(JSON.stringify(JSON.parse(r.result.value), null, 1).slice(0, 3000));
  ws.close();
};
