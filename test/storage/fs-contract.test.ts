import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FileStorage } from '@lethe/engine';
import { storageContract } from '@lethe/engine/testing';

async function write(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

storageContract({
  name: 'filesystem',
  observesAbsence: true,
  async create() {
    // <tmp>/root is the storage root; <tmp>/outside is what "../outside/..." keys would name.
    const base = await mkdtemp(join(tmpdir(), 'lethe-fs-contract-'));
    const root = join(base, 'root');
    await mkdir(root);
    const storage = new FileStorage({ root });
    return {
      storage,
      put: (key, body) => write(join(root, key), body),
      putOutside: (name, body) => write(join(base, 'outside', name), body),
      existsOutside: (name) =>
        stat(join(base, 'outside', name)).then(
          () => true,
          () => false,
        ),
      async dispose() {
        await storage.close();
        await rm(base, { recursive: true, force: true });
      },
    };
  },
});
