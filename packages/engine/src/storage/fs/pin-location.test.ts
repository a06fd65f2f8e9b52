import { describe, expect, it } from 'vitest';
import { PinLocation, type ReadlinkFn } from './pin-location.js';

/** A readlink whose calls answer only when the test says so, with the directory's path at that moment. */
function controlledReadlink(): { fn: ReadlinkFn; calls: number; answerNext: (target: string) => void; pending: () => number } {
  const queue: Array<(error: NodeJS.ErrnoException | null, target: string) => void> = [];
  const state = {
    calls: 0,
    fn: ((_path, callback) => {
      state.calls += 1;
      queue.push(callback);
    }) as ReadlinkFn,
    answerNext: (target: string) => queue.shift()!(null, target),
    pending: () => queue.length,
  };
  return state;
}

describe('PinLocation: one readlink for many keys, never a stale one', () => {
  it('a key that asks while a readlink is in flight waits for the next one, issued after it asked', () => {
    const rl = controlledReadlink();
    const pin = new PinLocation('/proc/self/fd/9', '/root/d', rl.fn);
    const answers: Record<string, boolean> = {};
    pin.check((ok) => (answers.a = ok));
    pin.check((ok) => (answers.b = ok)); // a's readlink is in flight: b must not share it
    expect(rl.calls).toBe(1);
    // The directory moves now; the readlink in flight was issued before the move and still sees it in place.
    rl.answerNext('/root/d');
    expect(answers).toEqual({ a: true });
    expect(rl.calls).toBe(2); // b's own, issued after b asked
    rl.answerNext('/elsewhere/d');
    expect(answers).toEqual({ a: true, b: false });
  });

  it('every key that asked before a readlink was issued shares it: 64 keys, 2 readlinks', () => {
    const rl = controlledReadlink();
    const pin = new PinLocation('/proc/self/fd/9', '/root/d', rl.fn);
    let inPlace = 0;
    for (let i = 0; i < 64; i++) pin.check((ok) => (inPlace += ok ? 1 : 0));
    rl.answerNext('/root/d'); // the first key's
    rl.answerNext('/root/d'); // the 63 that asked while it was in flight
    expect(rl.pending()).toBe(0);
    expect(rl.calls).toBe(2);
    expect(inPlace).toBe(64);
  });

  it('an error answers "not in place" (the key takes the per-key path)', () => {
    const pin = new PinLocation('/proc/self/fd/9', '/root/d', (_p, cb) => cb(Object.assign(new Error('EBADF'), { code: 'EBADF' }), ''));
    let answer: boolean | undefined;
    pin.check((ok) => (answer = ok));
    expect(answer).toBe(false);
  });

  it('a key asking after every readlink has answered gets a new one', () => {
    const rl = controlledReadlink();
    const pin = new PinLocation('/proc/self/fd/9', '/root/d', rl.fn);
    const seen: boolean[] = [];
    pin.check((ok) => seen.push(ok));
    rl.answerNext('/root/d');
    pin.check((ok) => seen.push(ok));
    expect(rl.calls).toBe(2);
    rl.answerNext('/root/d-moved');
    expect(seen).toEqual([true, false]);
  });
});
