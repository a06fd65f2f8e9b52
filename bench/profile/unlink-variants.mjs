// The storage syscalls a safe file delete makes, alone (docs/performance.md#peers-floor):
//   UV_THREADPOOL_SIZE=16 node bench/profile/unlink-variants.mjs unlink 'lstat+unlink' 'proc lstat+unlink' \
//     'proc readlink+lstat+unlink' 'sync unlink' 'sync proc lstat+unlink'
// 30k one-byte files in 60 directories, written and synced before each variant; prints files/s and
// this process's CPU per file. Async variants keep 64 calls in flight; `proc`: through
// /proc/self/fd/<fd of the directory>/, as Lethe's pinned directories are; `sync`: the same calls
// one at a time with the *Sync API. Each variant checks that it left no file.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';

const N = 30000;
const D = 60;
const root = `${tmpdir()}/lethe-unlink-variants`;
const keys = Array.from({ length: N }, (_, i) => [i % D, `f${i}`]);

function prepare() {
  fs.rmSync(root, { recursive: true, force: true });
  for (let d = 0; d < D; d++) fs.mkdirSync(`${root}/d${d}`, { recursive: true });
  for (let i = 0; i < N; i++) fs.writeFileSync(`${root}/d${i % D}/f${i}`, 'x');
  execSync('sync');
}

/** One key's calls, callback style; `fds[d]` is the open directory d. */
const ASYNC = {
  unlink: (fds, d, name, done) => fs.unlink(`${root}/d${d}/${name}`, done),
  'lstat+unlink': (fds, d, name, done) => {
    const p = `${root}/d${d}/${name}`;
    fs.lstat(p, () => fs.unlink(p, done));
  },
  'proc lstat+unlink': (fds, d, name, done) => {
    const p = `/proc/self/fd/${fds[d]}/${name}`;
    fs.lstat(p, () => fs.unlink(p, done));
  },
  'proc readlink+lstat+unlink': (fds, d, name, done) => {
    const base = `/proc/self/fd/${fds[d]}`;
    let answered = 0;
    const both = () => ++answered === 2 && fs.unlink(`${base}/${name}`, done);
    fs.readlink(base, both);
    fs.lstat(`${base}/${name}`, both);
  },
};
const SYNC = {
  'sync unlink': (fds, d, name) => fs.unlinkSync(`${root}/d${d}/${name}`),
  'sync proc lstat+unlink': (fds, d, name) => {
    const p = `/proc/self/fd/${fds[d]}/${name}`;
    if (fs.lstatSync(p).isFile()) fs.unlinkSync(p);
  },
};

async function run(variant) {
  const fds = Array.from({ length: D }, (_, d) => fs.openSync(`${root}/d${d}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (SYNC[variant]) for (const [d, name] of keys) SYNC[variant](fds, d, name);
  else {
    const one = ASYNC[variant];
    if (!one) throw new Error(`unknown variant ${variant}: ${[...Object.keys(ASYNC), ...Object.keys(SYNC)].join(', ')}`);
    await new Promise((resolve) => {
      let next = 0;
      let finished = 0;
      const start = () => {
        if (next >= N) return;
        const [d, name] = keys[next++];
        one(fds, d, name, () => (++finished === N ? resolve() : start()));
      };
      for (let i = 0; i < 64; i++) start();
    });
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  for (const fd of fds) fs.closeSync(fd);
  const left = fs.readdirSync(root).reduce((n, d) => n + fs.readdirSync(`${root}/${d}`).length, 0);
  if (left !== 0) throw new Error(`${variant} left ${left} files`);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

const variants = process.argv.slice(2);
for (let round = 0; round < 2; round++) {
  for (const v of variants) {
    prepare();
    const { ms, cpuMs } = await run(v);
    console.log(`${v.padEnd(30)} ${Math.round((N / ms) * 1000)} files/s  CPU ${((cpuMs / N) * 1000).toFixed(1)} µs/file`);
  }
}
fs.rmSync(root, { recursive: true, force: true });
