import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Every `kubectl` command in docs/runbook.md names objects that deploy/kubernetes/ really has: a
 * Deployment, CronJob, Service or Secret by name, label selectors that some object carries, and
 * containers (`-c`) of the workload named. An on-call engineer pastes these during an incident;
 * `deploy/lethe` when the Deployment is `lethe-daemon` fails at the worst moment.
 *
 * No YAML parser is a dependency of this repository, so the manifests are read structurally: the
 * subset they use (block maps and sequences, one-line flow maps for labels, `---` documents).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(ROOT, 'deploy/kubernetes');

interface K8sObject {
  readonly kind: string;
  readonly name: string;
  readonly file: string;
  /** metadata.labels, selector.matchLabels and every pod template's labels. */
  readonly labelSets: Record<string, string>[];
  readonly containers: string[];
}

const stripComment = (line: string): string => line.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
const unquote = (v: string): string => v.trim().replace(/^(["'])(.*)\1$/, '$2');
const indentOf = (line: string): number => line.length - line.trimStart().length;

/** `{ a: b, c: "d" }` */
function flowMap(text: string): Record<string, string> {
  const inner = text.trim().replace(/^\{/, '').replace(/\}$/, '');
  const out: Record<string, string> = {};
  for (const part of inner.split(',')) {
    if (part.trim() === '') continue;
    const i = part.indexOf(':');
    if (i < 0) throw new Error(`not a flow map entry: ${part}`);
    out[unquote(part.slice(0, i))] = unquote(part.slice(i + 1));
  }
  return out;
}

/** The map under `key:` at line i: a flow map on the same line, or the block below it. */
function mapAt(lines: string[], i: number): Record<string, string> {
  const rest = lines[i]!.slice(lines[i]!.indexOf(':') + 1).trim();
  if (rest.startsWith('{')) return flowMap(rest);
  const out: Record<string, string> = {};
  const base = indentOf(lines[i]!);
  for (let j = i + 1; j < lines.length; j++) {
    const l = lines[j]!;
    if (l.trim() === '') continue;
    if (indentOf(l) <= base) break;
    const m = /^\s*([^:\s][^:]*):\s*(.*)$/.exec(l);
    if (m) out[unquote(m[1]!)] = unquote(m[2]!);
  }
  return out;
}

function parseDocument(doc: string, file: string): K8sObject | undefined {
  const lines = doc.split('\n').map(stripComment);
  const kind = lines.map((l) => /^kind:\s*(\S+)$/.exec(l)?.[1]).find(Boolean);
  if (!kind) return undefined;
  const metadata = lines.findIndex((l) => /^metadata:\s*$/.test(l));
  let name: string | undefined;
  for (let j = metadata + 1; metadata >= 0 && j < lines.length && (lines[j]!.trim() === '' || indentOf(lines[j]!) > 0); j++) {
    const m = /^ {2}name:\s*(\S+)$/.exec(lines[j]!);
    if (m) name = unquote(m[1]!);
  }
  if (!name) throw new Error(`${file}: a ${kind} without metadata.name`);
  const labelSets: Record<string, string>[] = [];
  const containers: string[] = [];
  lines.forEach((l, i) => {
    if (/^\s*(labels|matchLabels):/.test(l)) labelSets.push(mapAt(lines, i));
    if (/^\s*(containers|initContainers):\s*$/.test(l)) {
      const base = indentOf(l);
      let itemIndent: number | undefined;
      for (let j = i + 1; j < lines.length; j++) {
        const c = lines[j]!;
        if (c.trim() === '') continue;
        if (indentOf(c) < base || (indentOf(c) === base && !c.trimStart().startsWith('-'))) break;
        const m = /^(\s*)- name:\s*(\S+)$/.exec(c);
        if (m && (itemIndent ?? m[1]!.length) === m[1]!.length) {
          itemIndent = m[1]!.length;
          containers.push(unquote(m[2]!));
        }
      }
    }
  });
  return { kind, name, file, labelSets, containers };
}

async function loadManifests(): Promise<K8sObject[]> {
  const files = (await readdir(K8S)).filter((f) => /\.ya?ml$/.test(f));
  const objects: K8sObject[] = [];
  for (const f of files) {
    const text = await readFile(join(K8S, f), 'utf8');
    for (const doc of text.split(/^---\s*$/m)) {
      const o = parseDocument(doc, f);
      if (o) objects.push(o);
    }
  }
  return objects;
}

const KINDS: Record<string, string> = {
  deploy: 'Deployment',
  deployment: 'Deployment',
  deployments: 'Deployment',
  'deployment.apps': 'Deployment',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  cj: 'CronJob',
  'cronjob.batch': 'CronJob',
  svc: 'Service',
  service: 'Service',
  services: 'Service',
  secret: 'Secret',
  secrets: 'Secret',
  job: 'Job',
  jobs: 'Job',
};
/** Kinds a command may list or select by label without naming one object. */
const LISTABLE = new Set(['pods', 'pod', 'po', 'jobs', 'job', 'deployments', 'deploy', 'cronjobs', 'cj', 'all', 'events']);

/** The `kubectl ...` commands of a Markdown text: inline code spans and lines of fenced blocks. */
function kubectlCommands(markdown: string): string[] {
  return [...markdown.matchAll(/kubectl\s[^`\n]*/g)].map((m) => stripComment(m[0]).trim());
}

/** What in `command` does not exist in `objects` (empty: every name it uses is real). */
function problems(command: string, objects: readonly K8sObject[]): string[] {
  const tokens = command.split(/\s+/).map(unquote);
  const errors: string[] = [];
  const named: K8sObject[] = [];
  const find = (kind: string, name: string): void => {
    if (kind === 'Job') {
      // Jobs are made by a CronJob (`<cronjob>-<n>`) or by `kubectl create job --from=cronjob/...`.
      if (!objects.some((o) => o.kind === 'CronJob' && name.startsWith(`${o.name}-`)) && !tokens.some((t) => t.startsWith('--from=')))
        errors.push(`job/${name}: no CronJob makes a Job of that name`);
      return;
    }
    const o = objects.find((x) => x.kind === kind && x.name === name);
    if (o) named.push(o);
    else
      errors.push(
        `${kind} "${name}" is not in deploy/kubernetes (there: ${
          objects
            .filter((x) => x.kind === kind)
            .map((x) => x.name)
            .join(', ') || 'none'
        })`,
      );
  };
  let selector: string | undefined;
  let container: string | undefined;
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '--') break; // the command run inside the container
    const value = /^--from=(.+)$/.exec(t)?.[1] ?? t;
    const ref = /^([a-z.]+)\/([a-z0-9][a-z0-9.-]*)$/.exec(value);
    if (ref && KINDS[ref[1]!]) find(KINDS[ref[1]!]!, ref[2]!);
    else if (ref && !['pod', 'pods', 'po'].includes(ref[1]!)) errors.push(`${value}: unknown resource type "${ref[1]}"`);
    if (t === '-l' || t === '--selector') selector = tokens[++i];
    else if (/^(-l|--selector)=/.test(t)) selector = t.replace(/^(-l|--selector)=/, '');
    if (t === '-c' || t === '--container') container = tokens[++i];
    else if (/^(-c|--container)=/.test(t)) container = t.replace(/^(-c|--container)=/, '');
  }
  // `kubectl get deployment lethe-daemon` form.
  const verb = tokens[1];
  if (
    verb &&
    ['get', 'describe', 'delete', 'edit', 'scale', 'label', 'annotate'].includes(verb) &&
    tokens[2] &&
    !tokens[2].includes('/') &&
    !tokens[2].startsWith('-')
  ) {
    const kind = KINDS[tokens[2]];
    const name = tokens[3];
    if (kind && name && !name.startsWith('-')) find(kind, name);
    else if (!kind && !LISTABLE.has(tokens[2])) errors.push(`"${tokens[2]}": not a resource type this check knows`);
  }
  if (selector !== undefined) {
    const pairs = selector.split(',').map((p) => /^([a-z0-9./-]+)=([a-z0-9._-]+)$/i.exec(p));
    if (pairs.some((p) => p === null)) errors.push(`-l ${selector}: only key=value selectors are checked`);
    else {
      const want = pairs.map((p) => [p![1]!, p![2]!] as const);
      const matches = objects.some((o) => o.labelSets.some((set) => want.every(([k, v]) => set[k] === v)));
      if (!matches) errors.push(`-l ${selector}: no object in deploy/kubernetes carries these labels`);
    }
  }
  if (container !== undefined) {
    const workloads = named.length > 0 ? named : objects;
    if (!workloads.some((o) => o.containers.includes(container!)))
      errors.push(`-c ${container}: no such container in ${named.map((o) => `${o.kind} ${o.name}`).join(', ') || 'deploy/kubernetes'}`);
  }
  return errors;
}

let objects: K8sObject[];
let commands: string[];

beforeAll(async () => {
  objects = await loadManifests();
  commands = kubectlCommands(await readFile(join(ROOT, 'docs/runbook.md'), 'utf8'));
});

describe('deploy/kubernetes, read structurally', () => {
  it('finds the Deployment, CronJob, Service and Secret with their labels and containers', () => {
    const byKey = new Map(objects.map((o) => [`${o.kind}/${o.name}`, o]));
    expect([...byKey.keys()].sort()).toEqual(['CronJob/lethe-cleanup', 'Deployment/lethe-daemon', 'Secret/lethe', 'Service/lethe']);
    const daemon = byKey.get('Deployment/lethe-daemon')!;
    expect(daemon.containers).toEqual(['lethe']);
    expect(daemon.labelSets).toContainEqual({ 'app.kubernetes.io/name': 'lethe', 'app.kubernetes.io/component': 'daemon' });
    expect(byKey.get('CronJob/lethe-cleanup')!.containers.sort()).toEqual(['lethe', 'migrate']);
  });
});

describe('kubectl commands in docs/runbook.md', () => {
  it('are found (inline and in fenced blocks)', () => {
    expect(commands.length).toBeGreaterThanOrEqual(6);
    expect(commands.some((c) => c.startsWith('kubectl exec'))).toBe(true);
    expect(commands.some((c) => c.startsWith('kubectl rollout undo'))).toBe(true);
  });

  it('name only deployments, cronjobs, labels and containers that deploy/kubernetes has', () => {
    const bad = commands.map((c) => ({ c, p: problems(c, objects) })).filter((x) => x.p.length > 0);
    expect(bad, bad.map((x) => `${x.c}\n  ${x.p.join('\n  ')}`).join('\n')).toEqual([]);
  });

  it('the check rejects the names the runbook used to have', () => {
    for (const c of [
      'kubectl exec -it deploy/lethe -- lethe status',
      'kubectl get pods -l app=lethe',
      'kubectl logs deploy/lethe',
      'kubectl rollout undo deployment/lethe',
      'kubectl logs deploy/lethe-daemon -c daemon',
      'kubectl get cronjob lethe',
    ]) {
      expect(problems(c, objects), c).not.toEqual([]);
    }
    expect(problems('kubectl logs deploy/lethe-daemon -c lethe', objects)).toEqual([]);
    expect(problems('kubectl create job --from=cronjob/lethe-cleanup lethe-manual', objects)).toEqual([]);
  });
});
