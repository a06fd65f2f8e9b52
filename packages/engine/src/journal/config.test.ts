import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { journalLocation, resolveJournalSetting } from './config.js';

describe('the journal setting', () => {
  const files = { kind: 'file', root: '/var/lib/docs' } as const;
  const s3 = { kind: 's3', bucket: 'bkt', prefix: 'docs/' } as const;

  it('defaults to the storage, under .lethe/journal/', () => {
    expect(resolveJournalSetting(undefined, files)).toEqual({ kind: 'storage' });
    expect(journalLocation({ kind: 'storage' }, files)).toEqual({ kind: 'file', dir: '/var/lib/docs/.lethe/journal' });
    expect(journalLocation({ kind: 'storage' }, s3)).toEqual({ kind: 's3', config: { ...s3, prefix: 'docs/.lethe/journal/' } });
  });

  it('takes off, an absolute dir: and an s3:// location', () => {
    expect(journalLocation(resolveJournalSetting('off', files), files)).toBeNull();
    expect(resolveJournalSetting('dir:/srv/journal', files)).toEqual({ kind: 'file', dir: '/srv/journal' });
    expect(resolveJournalSetting('s3://other/j/', s3)).toMatchObject({ kind: 's3', config: { bucket: 'other', prefix: 'j/' } });
    // Under the storage's own .lethe/ is Lethe's: allowed.
    expect(resolveJournalSetting('dir:/var/lib/docs/.lethe/j', files)).toEqual({ kind: 'file', dir: '/var/lib/docs/.lethe/j' });
  });

  it('refuses anything else, and a journal among the documents, naming the setting', () => {
    for (const bad of ['', 'on', 'dir:relative', 'file:///x', 7, 'dir:/var/lib/docs', 'dir:/var/lib/docs/j']) {
      expect(() => resolveJournalSetting(bad, files), String(bad)).toThrow(ConfigError);
      expect(() => resolveJournalSetting(bad, files), String(bad)).toThrow(/journal \(LETHE_JOURNAL\)/);
    }
    expect(() => resolveJournalSetting('s3://bkt/docs/journal/', s3)).toThrow(/inside the storage prefix/);
  });
});
