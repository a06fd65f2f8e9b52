// The storage syscalls a safe file delete makes, alone, at 64 in flight (docs/performance.md#peers-floor):
//   UV_THREADPOOL_SIZE=16 node bench/profile/unlink-variants.mjs unlink 'lstat+unlink' 'proc lstat+unlink' \
//     'proc readlink+lstat+unlink' 'sync unlink' 'sync proc lstat+unlink'
// 30k one-byte files in 60 directories, written and synced before each variant; prints files/s and
// this process's CPU per file. `proc`: through /proc/self/fd/<fd of the directory>/, as Lethe's
// pinned directories are; `sync`: the same calls one at a time with the *Sync API.
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { execSync } from 'node:child_process';
const N = 30000,
  D = 60;
const root = `${tmpdir()}/lethe-unlink-variants`;
function prep() {
  fs.rmSync(root, { recursive: true, force: true });
  for (let d = 0; d < D; d++) fs.mkdirSync(`${root}/d${d}`, { recursive: true });
  for (let i = 0; i < N; i++) fs.writeFileSync(`${root}/d${i % D}/f${i}`, 'x');
  execSync('sync');
}
const keys = Array.from({ length: N }, (_, i) => [i % D, `f${i}`]);
function run(variant) {
  return new Promise((resolve) => {
    const fds = [];
    for (let d = 0; d < D; d++) fds[d] = fs.openSync(`${root}/d${d}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    let next = 0,
      done = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const finish = () => {
      if (++done === N) {
        const c = process.cpuUsage(c0);
        for (const fd of fds) fs.closeSync(fd);
        resolve([performance.now() - t0, (c.user + c.system) / 1000]);
      } else start();
    };
    const start = () => {
      if (next >= N) return;
      const [d, name] = keys[next++];
      if (variant === 'sync proc lstat+unlink') {
        for (; next < N; next++) {
          const [d, name] = keys[next];
          const p = `/proc/self/fd/${fds[d]}/${name}`;
          const st = fs.lstatSync(p);
          if (st.isFile()) fs.unlinkSync(p);
        }
        done = N - 1;
        finish();
        return;
      }
      if (variant === 'sync proc lstat+unlink+readlink/64') {
        for (; next < N; next++) {
          const [d, name] = keys[next];
          if (next % 64 === 0) fs.readlinkSync(`/proc/self/fd/${fds[d]}`);
          const p = `/proc/self/fd/${fds[d]}/${name}`;
          const st = fs.lstatSync(p);
          if (st.isFile()) fs.unlinkSync(p);
        }
        done = N - 1;
        finish();
        return;
      }
      if (variant === 'sync unlink') {
        for (; next < N; next++) {
          const [d, name] = keys[next];
          fs.unlinkSync(`${root}/d${d}/${name}`);
        }
        done = N - 1;
        finish();
        return;
      }
      if (variant === 'unlink') fs.unlink(`${root}/d${d}/${name}`, finish);
      else if (variant === 'lstat+unlink') {
        const p = `${root}/d${d}/${name}`;
        fs.lstat(p, () => fs.unlink(p, finish));
      } else if (variant === 'proc lstat+unlink') {
        const p = `/proc/self/fd/${fds[d]}/${name}`;
        fs.lstat(p, () => fs.unlink(p, finish));
      } else if (variant === 'proc readlink+lstat+unlink') {
        const b = `/proc/self/fd/${fds[d]}`;
        const p = b + '/' + name;
        let n = 0;
        const s = () => {
          if (++n === 2) fs.unlink(p, finish);
        };
        fs.readlink(b, s);
        fs.lstat(p, s);
      }
    };
    for (let i = 0; i < 64; i++) start();
  });
}
const variants = process.argv.slice(2);
for (let r = 0; r < 2; r++)
  for (const v of variants) {
    prep();
    const [ms, cpu] = await run(v);
    console.log(v.padEnd(30), ((N / ms) * 1000).toFixed(0), 'files/s', 'cpu', ((cpu / N) * 1000).toFixed(1), 'µs/file');
  }
fs.rmSync(root, { recursive: true, force: true });
