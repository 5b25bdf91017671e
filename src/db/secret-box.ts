/**
 * Secrets at rest (issue 23, deliver 7): the columns that hold CHAP credentials — a volume's and
 * a snapshot's `provider_location`, an attachment's and a mapping's `connection_info`, a
 * scale-out task's payload and result — are stored sealed with AES-256-GCM (authenticated: a
 * changed byte is refused, not decrypted to garbage). The key is never in the database: it is
 * the config key `secretKey` (HITCH_SECRET_KEY: 32 bytes, base64 or hex; what several API
 * processes on one PostgreSQL share), or else the file `secret.key` beside the SQLite database
 * in the data dir, made 0600 at first start.
 *
 * A sealed value is `hitch-sealed:v1:` then base64 of IV (12 bytes), tag (16) and ciphertext.
 * Any other value is plaintext from before sealing; start-up seals such rows (`sealOldRows`).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { HitchError } from '../errors.ts';

export const SEALED_PREFIX = 'hitch-sealed:v1:';
const IV = 12;
const TAG = 16;
/** Binds every sealed value to Hitch's use of the key: another program's ciphertext under it is refused. */
const AAD = Buffer.from('hitch secret column v1');

export class SecretBox {
  readonly #key: Buffer;
  /** A short digest of the key (not the key): names which key sealed a database, in its meta table. */
  readonly fingerprint: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `config secretKey: must be 32 bytes (AES-256), got ${key.length}` });
    this.#key = Buffer.from(key);
    this.fingerprint = createHash('sha256').update('hitch-key-fingerprint\0').update(key).digest('hex').slice(0, 16);
  }

  /** A box with a key of its own, for a database that lives only in this process (sqlite::memory:). */
  static ephemeral(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  static isSealed(v: string): boolean {
    return v.startsWith(SEALED_PREFIX);
  }

  seal(plain: string): string {
    const iv = randomBytes(IV);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(AAD);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
  }

  /** The plaintext of a sealed value; a value that is not sealed is returned as it is. */
  open(stored: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64');
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV));
      d.setAAD(AAD);
      d.setAuthTag(raw.subarray(IV, IV + TAG));
      return Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]).toString('utf8');
    } catch (e) {
      // Never the value itself in the error: it is a secret, sealed or not.
      throw new HitchError('HITCH_SECRET_UNREADABLE', {}, { cause: e instanceof Error ? new Error(e.message) : undefined });
    }
  }
}

/** The 32 bytes of a configured key: base64 (44 characters) or hex (64). */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : null;
  if (key === null || key.length !== 32) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'config secretKey: must be 32 random bytes as base64 (44 characters) or hex (64); make one with: openssl rand -base64 32' });
  }
  return key;
}

/**
 * The key in `file`, made there (32 random bytes, base64, 0600) when it does not exist. Made
 * under another name and linked into place, so two processes starting at once on one data dir
 * agree on one key: the second's link fails and it reads the first's.
 */
export function keyFromFile(file: string): Buffer {
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  try {
    return parseSecretKey(readFileSync(file, 'utf8'));
  } catch (e) {
    if (e instanceof HitchError) {
      throw new HitchError('HITCH_DATABASE_UNUSABLE', {
        path: file,
        reason: 'the key file that seals CHAP secrets does not hold a key (32 bytes, base64)',
        next: 'restore it from a backup of the data dir; without it the sealed secrets cannot be read',
      });
    }
    throw e;
  }
}
