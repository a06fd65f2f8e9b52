import { readlink } from 'node:fs';

/** `fs.readlink`'s callback form: injectable so a test decides when each call answers. */
export type ReadlinkFn = (path: string, callback: (error: NodeJS.ErrnoException | null, target: string) => void) => void;

/**
 * Where a pinned directory is now, for the keys in it (file-storage.ts, erasePinned): each key is
 * answered by a `readlink` of the directory's fd that was *issued after the key asked*, never by
 * one already in flight (it may predate a rename the key must see), and one readlink answers
 * every key that asked before it was issued. So a key's check is as fresh as a readlink of its
 * own would be (it starts after the key asks and ends before the key's unlink), but 64 keys in
 * flight in one directory cost one or two readlinks instead of 64 (docs/safety.md#file-storage,
 * docs/performance.md#peers).
 */
export class PinLocation {
  readonly #fdPath: string;
  readonly #real: string;
  readonly #readlink: ReadlinkFn;
  #waiting: Array<(inPlace: boolean) => void> = [];
  #inFlight = false;

  /** `fdPath`: `/proc/self/fd/<fd>`; `real`: the directory's real path when it was pinned. */
  constructor(fdPath: string, real: string, readlinkFn: ReadlinkFn = readlink) {
    this.#fdPath = fdPath;
    this.#real = real;
    this.#readlink = readlinkFn;
  }

  /** Calls `answer(true)` when the directory is still at its pinned path, `false` otherwise (or on any error). */
  check(answer: (inPlace: boolean) => void): void {
    this.#waiting.push(answer);
    if (!this.#inFlight) this.#issue();
  }

  #issue(): void {
    const asked = this.#waiting;
    this.#waiting = [];
    this.#inFlight = true;
    this.#readlink(this.#fdPath, (error, target) => {
      this.#inFlight = false;
      const inPlace = !error && target === this.#real;
      for (const answer of asked) answer(inPlace);
      // Keys that asked while this one was in flight get the next readlink.
      if (!this.#inFlight && this.#waiting.length > 0) this.#issue();
    });
  }
}
