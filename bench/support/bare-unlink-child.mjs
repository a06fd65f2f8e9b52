// The bare loop of bench/peers.bench.ts, as its own process (plain JavaScript: no tsx start-up):
// unlink <root>/d<k>/<i>.pdf for i in [0, n), files spread over `dirs` directories, 64 in flight
// on the main thread. The parent sets UV_THREADPOOL_SIZE=16 (as the lethe launcher does).
//   node bench/support/bare-unlink-child.mjs <root> <n> <dirs>
import { unlink } from 'node:fs/promises';

const [root, nText, dirsText] = process.argv.slice(2);
const n = Number(nText);
const dirs = Number(dirsText);
const perDir = Math.ceil(n / dirs);
let next = 0;
const worker = async () => {
  while (next < n) {
    const i = next++;
    await unlink(`${root}/d${Math.floor(i / perDir)}/${i}.pdf`);
  }
};
await Promise.all(Array.from({ length: 64 }, worker));
