/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per function, top first.
 *
 *   node --import tsx bench/profile/summarize-cpuprofile.ts <dir-or-file>... [--top 25] [--window startUs:endUs]
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

function label(f: CallFrame): string {
  const file =
    f.url === ''
      ? ''
      : ` ${f.url
          .replace(/^file:\/\//, '')
          .replace(/^.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
          .replace(/^.*\/work\/main\//, '')}:${f.lineNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${file}`;
}

/** Self time per function; with `windowUs`, only samples taken inside it (CLOCK_MONOTONIC microseconds, as process.hrtime). */
export function selfTimes(profile: CpuProfile, windowUs?: readonly [number, number]): { totalMs: number; byFunction: SelfTime[] } {
  const nodeById = new Map<number, ProfileNode>();
  for (const n of profile.nodes) nodeById.set(n.id, n);
  const micros = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodeById.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (!node || (windowUs && (at < windowUs[0] || at > windowUs[1]))) continue;
    const name = label(node.callFrame);
    micros.set(name, (micros.get(name) ?? 0) + dt);
    total += dt;
  }
  const byFunction = [...micros].map(([name, us]) => ({ name, ms: us / 1000, share: total === 0 ? 0 : us / total })).sort((a, b) => b.ms - a.ms);
  return { totalMs: total / 1000, byFunction };
}

async function profileFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      for (const f of (await readdir(p)).sort()) if (f.endsWith('.cpuprofile')) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
  const windowAt = args.indexOf('--window');
  const window = windowAt >= 0 ? (args.splice(windowAt, 2)[1]!.split(':').map(Number) as [number, number]) : undefined;
  for (const file of await profileFiles(args)) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const { totalMs, byFunction } = selfTimes(profile, window);
    const idle = byFunction.find((f) => f.name.startsWith('(idle)'))?.ms ?? 0;
    console.log(`\n${basename(file)}: ${(totalMs / 1000).toFixed(2)} s sampled, ${((totalMs - idle) / 1000).toFixed(2)} s busy`);
    for (const f of byFunction.slice(0, top)) console.log(`  ${f.ms.toFixed(0).padStart(7)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
  }
}
