import { readFile, writeFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { batchDigest, chainedRowSelect, linkHash, type ChainedRow, type ChainLink } from '../db/tables/ledger-chain.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { verifyChainHead } from '../ledger-signing.js';

/**
 * `lethe ledger verify` and `lethe ledger export` (docs/safety.md#tamper-evident-ledger). The
 * chain is recomputed from the rows (in JS, from the same canonical form the write path hashes in
 * SQL), link by link from the anchor (the genesis, or the head of the segment `lethe prune`
 * removed), and the first link where it breaks is named with its run and batch. The same checker
 * reads the database or an export file, so an export can be checked offline, with no database.
 */

export interface ChainAnchor {
  readonly seq: string;
  readonly hash: string;
  /** Rows with ids up to this one are not in the chain (written before it, or kept by a prune). */
  readonly start_ledger_id: string;
}

export interface RunHead {
  readonly run_id: string;
  readonly chain_seq: string;
  readonly chain_head: string;
  readonly chain_signature: string | null;
}

export interface LedgerExport {
  readonly format: 'lethe-ledger-export';
  readonly version: 1;
  readonly exported_at: string;
  readonly anchor: ChainAnchor;
  readonly head: { readonly seq: string; readonly link_hash: string };
  readonly links: readonly ChainLink[];
  readonly rows: readonly ChainedRow[];
  readonly runs: readonly RunHead[];
}

export type ChainProblem =
  'link_missing' | 'link_changed' | 'prev_mismatch' | 'rows_changed' | 'rows_inserted_out_of_band' | 'head_mismatch' | 'run_head_mismatch';

export interface ChainBreak {
  readonly code: typeof ErrorCodes.LEDGER_CHAIN | typeof ErrorCodes.LEDGER_SIGNATURE;
  readonly problem: ChainProblem | 'signature_invalid' | 'signature_missing';
  /** The batch: the link's sequence number (null: after the head). */
  readonly seq: string | null;
  readonly run_id: string | null;
  readonly message: string;
}

export interface ChainVerifyReport {
  readonly source: 'database' | 'export';
  readonly ok: boolean;
  readonly anchor_seq: string;
  readonly head_seq: string;
  readonly links_checked: number;
  readonly rows_checked: number;
  readonly runs_checked: number;
  readonly signatures: { readonly checked: boolean; readonly valid: number; readonly unsigned: number };
  /** The first break of the chain, then the first signature problem (at most one of each). */
  readonly problems: readonly ChainBreak[];
}

interface ChainSource {
  readonly anchor: ChainAnchor;
  readonly head: { readonly seq: string; readonly link_hash: string };
  /** Pages of links in seq order, each with the rows whose ids are above the previous page's last link and up to its own last. */
  pages(): AsyncIterable<{ links: readonly ChainLink[]; rows: readonly ChainedRow[] }>;
  /** Rows after the last link (inserted out of band after the head). */
  rowsAfter(id: string): Promise<readonly ChainedRow[]>;
  readonly runs: readonly RunHead[];
}

const chainBreak = (problem: ChainProblem, link: ChainLink | null, message: string): ChainBreak => ({
  code: ErrorCodes.LEDGER_CHAIN,
  problem,
  seq: link?.seq ?? null,
  run_id: link?.run_id ?? null,
  message,
});

const where = (l: ChainLink): string => `run ${l.run_id}, batch ${l.seq}`;

/** The first break of the chain, and the link hash of every link checked (for the run heads). */
async function walk(src: ChainSource): Promise<{ broken: ChainBreak | null; links: number; rows: number; hashes: Map<string, string> }> {
  let prev = src.anchor.hash;
  let expected = BigInt(src.anchor.seq) + 1n;
  let links = 0;
  let rowsChecked = 0;
  let last: ChainLink | null = null;
  const hashes = new Map<string, string>();
  for await (const page of src.pages()) {
    let i = 0;
    const rows = page.rows;
    for (const l of page.links) {
      links++;
      if (BigInt(l.seq) !== expected)
        return { broken: chainBreak('link_missing', l, `batch ${expected} is missing before ${where(l)}`), links, rows: rowsChecked, hashes };
      if (l.prev_hash !== prev)
        return { broken: chainBreak('prev_mismatch', l, `${where(l)} does not follow the batch before it`), links, rows: rowsChecked, hashes };
      if (linkHash(l) !== l.link_hash)
        return { broken: chainBreak('link_changed', l, `${where(l)}: its link record was changed`), links, rows: rowsChecked, hashes };
      const first = BigInt(l.first_ledger_id);
      const lastId = BigInt(l.last_ledger_id);
      const before: ChainedRow[] = [];
      while (i < rows.length && BigInt(rows[i]!.id!) < first) before.push(rows[i++]!);
      if (before.length > 0)
        return {
          broken: chainBreak(
            'rows_inserted_out_of_band',
            l,
            `${before.length} ledger row(s) (first id ${before[0]!.id}) inserted out of band before ${where(l)}`,
          ),
          links,
          rows: rowsChecked,
          hashes,
        };
      const mine: ChainedRow[] = [];
      while (i < rows.length && BigInt(rows[i]!.id!) <= lastId) mine.push(rows[i++]!);
      rowsChecked += mine.length;
      if (mine.length !== l.row_count || batchDigest(mine) !== l.batch_digest) {
        const how = mine.length < l.row_count ? 'deleted' : mine.length > l.row_count ? 'inserted out of band' : 'changed';
        return {
          broken: chainBreak(
            'rows_changed',
            l,
            `${where(l)}: ledger rows ${l.first_ledger_id}..${l.last_ledger_id} were ${how} (${mine.length} found, ${l.row_count} recorded)`,
          ),
          links,
          rows: rowsChecked,
          hashes,
        };
      }
      prev = l.link_hash;
      expected++;
      last = l;
      hashes.set(l.seq, l.link_hash);
    }
    if (i < rows.length)
      return { broken: chainBreak('rows_inserted_out_of_band', last, `ledger row ${rows[i]!.id} is in no batch`), links, rows: rowsChecked, hashes };
  }
  if (String(expected - 1n) !== src.head.seq || prev !== src.head.link_hash)
    return {
      broken: chainBreak(
        'head_mismatch',
        last,
        `the chain ends at batch ${expected - 1n} but its head says batch ${src.head.seq}: links were removed or the head was changed`,
      ),
      links,
      rows: rowsChecked,
      hashes,
    };
  const after = await src.rowsAfter(last?.last_ledger_id ?? src.anchor.start_ledger_id);
  if (after.length > 0)
    return {
      broken: chainBreak(
        'rows_inserted_out_of_band',
        null,
        `${after.length} ledger row(s) (first id ${after[0]!.id}) inserted out of band after the last batch`,
      ),
      links,
      rows: rowsChecked,
      hashes,
    };
  return { broken: null, links, rows: rowsChecked, hashes };
}

/**
 * Run heads: each must be the link the chain has at its seq (a pruned seq cannot be checked, and
 * is not). With a public key, each signature must verify, and once a run is signed every later
 * run must be too (a removed signature is a finding).
 */
function checkRuns(
  runs: readonly RunHead[],
  hashes: ReadonlyMap<string, string>,
  key: KeyObject | null,
): { problems: ChainBreak[]; valid: number; unsigned: number } {
  const problems: ChainBreak[] = [];
  let valid = 0;
  let unsigned = 0;
  let signedSeen = false;
  const sorted = [...runs].sort((a, b) => (BigInt(a.chain_seq) < BigInt(b.chain_seq) ? -1 : 1));
  for (const r of sorted) {
    const known = hashes.get(r.chain_seq);
    if (known !== undefined && known !== r.chain_head && !problems.some((p) => p.code === ErrorCodes.LEDGER_CHAIN))
      problems.push({
        code: ErrorCodes.LEDGER_CHAIN,
        problem: 'run_head_mismatch',
        seq: r.chain_seq,
        run_id: r.run_id,
        message: `run ${r.run_id}: its recorded chain head is not batch ${r.chain_seq}'s`,
      });
    if (!key || problems.some((p) => p.code === ErrorCodes.LEDGER_SIGNATURE)) continue;
    if (r.chain_signature === null) {
      unsigned++;
      if (signedSeen)
        problems.push({
          code: ErrorCodes.LEDGER_SIGNATURE,
          problem: 'signature_missing',
          seq: r.chain_seq,
          run_id: r.run_id,
          message: `run ${r.run_id}: unsigned, after signed runs`,
        });
      continue;
    }
    signedSeen = true;
    if (verifyChainHead(key, r.run_id, r.chain_seq, r.chain_head, r.chain_signature)) valid++;
    else
      problems.push({
        code: ErrorCodes.LEDGER_SIGNATURE,
        problem: 'signature_invalid',
        seq: r.chain_seq,
        run_id: r.run_id,
        message: `run ${r.run_id}: its chain head signature does not verify with the public key`,
      });
  }
  return { problems, valid, unsigned };
}

async function verifySource(src: ChainSource, source: 'database' | 'export', key: KeyObject | null): Promise<ChainVerifyReport> {
  const w = await walk(src);
  const runs = checkRuns(src.runs, w.hashes, key);
  const problems = [...(w.broken ? [w.broken] : []), ...runs.problems.filter((p) => !w.broken || p.code !== ErrorCodes.LEDGER_CHAIN)];
  return {
    source,
    ok: problems.length === 0,
    anchor_seq: src.anchor.seq,
    head_seq: src.head.seq,
    links_checked: w.links,
    rows_checked: w.rows,
    runs_checked: src.runs.length,
    signatures: { checked: key !== null, valid: runs.valid, unsigned: runs.unsigned },
    problems,
  };
}

const LINK_COLUMNS = 'seq::text, run_id::text, prev_hash, batch_digest, link_hash, row_count, first_ledger_id::text, last_ledger_id::text';
const PAGE_LINKS = 200;

async function readHead(db: Queryable): Promise<{ anchor: ChainAnchor; head: { seq: string; link_hash: string } }> {
  const { rows } = await db.query<{ seq: string; link_hash: string; anchor_seq: string; anchor_hash: string; start_ledger_id: string }>(
    `SELECT seq::text, link_hash, anchor_seq::text, anchor_hash, start_ledger_id::text FROM lethe_ledger_chain_head WHERE id = 1`,
  );
  const h = rows[0];
  if (!h) throw new LetheError(ErrorCodes.NOT_MIGRATED, 'the ledger chain has no head row: run `lethe migrate`');
  return { anchor: { seq: h.anchor_seq, hash: h.anchor_hash, start_ledger_id: h.start_ledger_id }, head: { seq: h.seq, link_hash: h.link_hash } };
}

async function rowsBetween(db: Queryable, afterId: string, upToId: string | null): Promise<ChainedRow[]> {
  const { rows } = await db.query<ChainedRow>(
    `SELECT ${chainedRowSelect('l')} FROM lethe_ledger l WHERE l.id > $1::bigint ${upToId === null ? '' : 'AND l.id <= $2::bigint'} ORDER BY l.id`,
    upToId === null ? [afterId] : [afterId, upToId],
  );
  return rows;
}

async function runHeads(db: Queryable): Promise<RunHead[]> {
  const { rows } = await db.query<RunHead>(
    `SELECT id::text AS run_id, chain_seq::text, chain_head, chain_signature FROM lethe_runs WHERE chain_seq IS NOT NULL ORDER BY chain_seq`,
  );
  return rows;
}

/** The chain as the database holds it, read a page of links at a time (memory: one page of rows). */
async function databaseSource(db: Queryable): Promise<ChainSource> {
  const { anchor, head } = await readHead(db);
  const runs = await runHeads(db);
  return {
    anchor,
    head,
    runs,
    async *pages() {
      let afterSeq = anchor.seq;
      let afterId = anchor.start_ledger_id;
      for (;;) {
        const { rows: links } = await db.query<ChainLink>(`SELECT ${LINK_COLUMNS} FROM lethe_ledger_chain WHERE seq > $1::bigint ORDER BY seq LIMIT $2`, [
          afterSeq,
          PAGE_LINKS,
        ]);
        if (links.length === 0) return;
        const last = links[links.length - 1]!;
        const upTo = links.reduce((m, l) => (BigInt(l.last_ledger_id) > BigInt(m) ? l.last_ledger_id : m), last.last_ledger_id);
        yield { links, rows: await rowsBetween(db, afterId, upTo) };
        afterSeq = last.seq;
        afterId = upTo;
      }
    },
    rowsAfter: (id) => rowsBetween(db, id, null),
  };
}

function exportSource(e: LedgerExport): ChainSource {
  return {
    anchor: e.anchor,
    head: e.head,
    runs: e.runs,
    async *pages() {
      const last = e.links[e.links.length - 1];
      yield { links: e.links, rows: last ? e.rows.filter((r) => BigInt(r.id!) <= BigInt(last.last_ledger_id)) : [] };
    },
    rowsAfter: async (id) => e.rows.filter((r) => BigInt(r.id!) > BigInt(id)),
  };
}

export interface ChainVerifyOptions {
  /** Check an export file instead of the database (offline). */
  readonly fromExport?: string;
  readonly publicKey?: KeyObject | null;
}

export async function verifyLedgerChain(db: Queryable | null, o: ChainVerifyOptions = {}): Promise<ChainVerifyReport> {
  if (o.fromExport !== undefined) return verifySource(exportSource(await readLedgerExport(o.fromExport)), 'export', o.publicKey ?? null);
  if (db === null) throw new ConfigError('ledger verify: a database or an export file (--from-export) is needed');
  return verifySource(await databaseSource(db), 'database', o.publicKey ?? null);
}

export async function readLedgerExport(path: string): Promise<LedgerExport> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`--from-export: expected a JSON file written by \`lethe ledger export\`, got ${JSON.stringify(path)} (${(error as Error).message})`);
  }
  const e = parsed as Partial<LedgerExport> | null;
  if (
    !e ||
    e.format !== 'lethe-ledger-export' ||
    e.version !== 1 ||
    !Array.isArray(e.links) ||
    !Array.isArray(e.rows) ||
    !Array.isArray(e.runs) ||
    !e.anchor ||
    !e.head
  )
    throw new ConfigError(`--from-export: ${JSON.stringify(path)} is not a lethe ledger export (format "lethe-ledger-export", version 1)`);
  return e as LedgerExport;
}

/** Everything verify needs, in one JSON document: the anchor, the head, every link, every chained row's hashed fields, the run heads. */
export async function exportLedger(engine: Pick<Engine, 'pool'>, path: string): Promise<{ path: string; links: number; rows: number; runs: number }> {
  const db = engine.pool;
  const { anchor, head } = await readHead(db);
  const { rows: links } = await db.query<ChainLink>(`SELECT ${LINK_COLUMNS} FROM lethe_ledger_chain WHERE seq > $1::bigint ORDER BY seq`, [anchor.seq]);
  const rows = await rowsBetween(db, anchor.start_ledger_id, null);
  const runs = await runHeads(db);
  const { rows: now } = await db.query<{ t: Date }>('SELECT now() AS t');
  const doc: LedgerExport = { format: 'lethe-ledger-export', version: 1, exported_at: now[0]!.t.toISOString(), anchor, head, links, rows, runs };
  await writeFile(path, `${JSON.stringify(doc)}\n`, { mode: 0o600 });
  return { path, links: links.length, rows: rows.length, runs: runs.length };
}
