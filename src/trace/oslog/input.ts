/**
 * Reading logs: files (plain or gzip, told apart by their first two bytes, not their name) and
 * stdin (`-`), line by line as a stream, so a compute host's day of logs is never held whole
 * as text. Every line is masked (`mask.ts`) as it is read: nothing after this sees a secret.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { HitchError } from '../../errors.ts';
import { maskLogText } from './mask.ts';
import type { InputLine } from './record.ts';

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Peek at a stream's first bytes to tell gzip from text; the bytes are put back. */
async function textOf(stream: Readable): Promise<Readable> {
  const head = await new Promise<Buffer | null>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onReadable = (): void => {
      cleanup();
      resolve(stream.read() as Buffer | null);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    stream.once('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
  if (head) stream.unshift(head);
  return head && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? stream.pipe(createGunzip()) : stream;
}

/** Lines of one source, masked. `-` reads `stdin`. */
export async function* readSource(path: string, stdin?: Readable): AsyncGenerator<InputLine> {
  let stream: Readable;
  if (path === '-') {
    if (!stdin) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'no standard input to read the log from' });
    stream = await textOf(stdin);
  } else {
    let gz: boolean;
    try {
      gz = await isGzip(path);
    } catch (e) {
      throw new HitchError('HITCH_LOG_UNREADABLE', { path, reason: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
    const raw = createReadStream(path);
    stream = gz ? raw.pipe(createGunzip()) : raw;
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      yield { source: path, lineNo, text: maskLogText(text) };
    }
  } catch (e) {
    throw new HitchError('HITCH_LOG_UNREADABLE', { path, reason: e instanceof Error ? e.message : String(e) });
  }
}
