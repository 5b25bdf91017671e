/**
 * Password hashing with scrypt (node's crypto, no dependency). The stored form carries its
 * parameters — `scrypt$N$r$p$salt$hash` — so the cost can rise later without breaking old rows.
 *
 * A user without a password (created without one, as `openstack user create svc` does, or given
 * an empty one) stores `NO_PASSWORD`, which no password matches: Keystone keeps NULL there and
 * its `check_password` refuses `None`. An empty password never matches anything either.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The stored form of "this user has no password": not a hash, so nothing verifies against it. */
export const NO_PASSWORD = '';

/** The stored form of `password`; `NO_PASSWORD` for none (null, absent or empty). */
export async function storedPassword(password: string | null | undefined): Promise<string> {
  return password ? hashPassword(password) : NO_PASSWORD;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (password === '' || stored === NO_PASSWORD) return false;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
