/** The machine's own clock: wall time, and sleeps that a signal can cut short. */
import { HitchError } from '../errors.ts';
import type { Clock } from '../ports/host.ts';

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new HitchError('HITCH_ABORTED', { reason: 'sleep aborted' }));
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new HitchError('HITCH_ABORTED', { reason: 'sleep aborted' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
