/**
 * Every message in the catalog, rendered, tells a person what happened to what and what to do:
 *
 * - it names things: no `{placeholder}` left, no `undefined`/`null`/`[object Object]`, and an id
 *   only beside a name (`demo-volume (0b6b…)`), never alone;
 * - it says it plainly: no boilerplate list of every condition that could have blocked it;
 * - it ends with a next step: a command to run or a thing to check.
 *
 * Each placeholder is filled with what a call site passes for a placeholder of that name (ids
 * are raw UUIDs, `{volume}`/`{server}` are `ref()`s). A new entry needs nothing here unless it
 * needs an exemption below, which says why.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, HitchError, ref, renderCatalog, type ErrorCode } from './errors.ts';

const UUID = '0b6b3c9e-5f1a-4c2e-9d3b-7a1e2f4c5d6e';
const UUID2 = '7c2d4e6f-8a9b-4c1d-8e2f-3a4b5c6d7e8f';

/** What call sites pass, by placeholder name. */
const SAMPLES: Record<string, string | number> = {
  volume: ref({ name: 'demo-volume', id: UUID }),
  server: ref({ name: 'demo-server', id: UUID2 }),
  attachment: ref({ name: 'demo-volume on demo-server', id: UUID }),
  attachedTo: `${ref({ name: 'demo-server', id: UUID2 })} at /dev/vdb`,
  volumeArg: 'demo-volume',
  serverArg: 'demo-server',
  portal: '192.168.1.59:3260',
  target: 'iqn.2010-10.org.openstack:volume-demo',
  seconds: 30,
  timeoutMs: 30000,
  exitCode: 8,
  count: 2,
  limit: 114688,
  retryAfter: 3,
  status: 'in-use',
  current: 'in-use',
  expected: 'available',
  state: 'vm_state building',
  action: 'attach_volume',
  device: '/dev/vdb',
  path: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.2010-10.org.openstack:volume-demo-lun-1',
  paths: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.2010-10.org.openstack:volume-demo-lun-1',
  host: 'compute-1',
  kind: 'Volume',
  next: 'Run `hitch volume show demo-volume` to see its state.',
};

/** A placeholder named like an id gets a raw id, as call sites pass one. */
const sample = (name: string): string | number => SAMPLES[name] ?? (/^id$|Id$/.test(name) ? UUID : `sample ${name}`);

const placeholders = (t: string): string[] => [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);

const render = (code: ErrorCode): string => {
  const e = ERROR_CATALOG[code];
  return renderCatalog(code, Object.fromEntries([...placeholders(e.message), ...placeholders(e.hint)].map((p) => [p, sample(p)])));
};

/**
 * Exemptions, each with its reason:
 * - HITCH_NOT_FOUND echoes the id the client asked for: nothing by that id exists to name.
 */
const BARE_ID_ALLOWED: readonly ErrorCode[] = ['HITCH_NOT_FOUND'];
/**
 * Codes whose whole message and next step come from the call site (`{reason}`, `{next}`): one
 * code for many situations of one HTTP meaning. Their call sites name things and give `next`.
 */
const NEXT_FROM_CALL_SITE: readonly ErrorCode[] = ['HITCH_CONFLICT', 'HITCH_INVALID_VOLUME', 'HITCH_VOLUME_STATUS_CONFLICT', 'HITCH_DATABASE_UNUSABLE'];

/** A next step opens with one of these, or names a command. */
const IMPERATIVE = /^(Check|Correct|Retry|Run|Use|Start|Detach|Delete|Wait|Give|Leave|Send|Ask|Log in|Fix|See|Remove|Set|Create|Choose|Attach|Report|Try|List|Stop|This is a fault in Hitch)\b/;
const COMMAND = /\b(hitch|openstack|virsh|multipath|iscsiadm|systemctl|journalctl|udevadm)\s+[a-z-]/;

const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe('the error catalog', () => {
  it.each(codes)('%s renders a message that names things, plainly, with a next step', (code) => {
    const e = ERROR_CATALOG[code];
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.message.trim().length, 'message').toBeGreaterThan(0);
    expect(e.hint.trim().length, 'hint (the next step)').toBeGreaterThan(0);
    const text = render(code);
    // Every detail filled in, nothing unprintable.
    expect(text).not.toMatch(/\{\w+\}/);
    expect(text).not.toMatch(/\b(undefined|null|NaN)\b|\[object Object\]/);
    // Ids only beside a name: `name (id)`.
    if (!BARE_ID_ALLOWED.includes(code)) {
      for (const m of text.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g)) {
        const before = text.slice(0, m.index);
        expect(before.endsWith('('), `${code}: an id alone in "${text}"`).toBe(true);
      }
    }
    // No boilerplate: not a list of every status or condition that could have blocked it.
    expect((text.match(/ or /g) ?? []).length, `${code}: a list of alternatives in "${text}"`).toBeLessThanOrEqual(2);
    expect(e.message.split(',').length, `${code}: a list in the template "${e.message}"`).toBeLessThanOrEqual(3);
    // A next step.
    if (NEXT_FROM_CALL_SITE.includes(code)) expect(e.hint).toBe('{next}');
    else expect(IMPERATIVE.test(e.hint) || COMMAND.test(e.hint), `${code}: hint "${e.hint}" says no next step`).toBe(true);
  });

  it('leaves the next step out when a detail it names was not given, never a {placeholder}', () => {
    const e = new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: ref({ name: 'data', id: UUID }), server: ref({ name: 'vm', id: UUID2 }) });
    expect(e.message).toBe(`Volume data (${UUID}) is not attached to server vm (${UUID2}).`);
    const full = new HitchError('HITCH_VOLUME_NOT_ATTACHED', { volume: ref({ name: 'data', id: UUID }), server: ref({ name: 'vm', id: UUID2 }), serverArg: 'vm' });
    expect(full.message).toBe(`Volume data (${UUID}) is not attached to server vm (${UUID2}). See what is attached there: hitch attachments vm`);
  });

  it('names an unnamed resource by its id, in parentheses', () => {
    expect(ref({ name: null, id: UUID })).toBe(`unnamed (${UUID})`);
    expect(ref({ name: 'demo-volume', id: UUID })).toBe(`demo-volume (${UUID})`);
  });

  it('keeps a text passed on from another process as it is', () => {
    const e = new HitchError('HITCH_ISCSI_LOGIN_TIMEOUT', {}, { message: 'iSCSI login to 10.0.0.1:3260 timed out after 30 s (iscsiadm exit 8). Check …' });
    expect(e.message).toBe('iSCSI login to 10.0.0.1:3260 timed out after 30 s (iscsiadm exit 8). Check …');
  });
});

const ROOT = join(import.meta.dirname, '..');

/** The codes of README.md's "Error codes" table, with the status each row gives. */
function documented(): Map<string, number> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /^## Error codes\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
  return new Map([...section.matchAll(/^\| `(HITCH_\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])]));
}

/** Production sources under src/ (tests and the catalog itself left out). */
function productionSources(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return productionSources(p);
    return p.endsWith('.ts') && !/\.(test|suite|conformance|test-helpers)\.ts$/.test(p) && p !== join(ROOT, 'src', 'errors.ts') ? [p] : [];
  });
}

describe('the catalog, the README and the code agree', () => {
  const readme = documented();

  it('every code in the catalog is in the README with its status, and every code there is in the catalog', () => {
    expect(readme.size).toBeGreaterThan(20);
    expect([...readme.keys()].filter((c) => !(c in ERROR_CATALOG)), 'documented, not in the catalog').toEqual([]);
    expect(codes.filter((c) => !readme.has(c)), 'in the catalog, not documented').toEqual([]);
    expect(codes.filter((c) => readme.get(c) !== ERROR_CATALOG[c].status), 'documented with another status').toEqual([]);
  });

  it('every code in the catalog is raised somewhere in src/ (a code nothing raises is a promise the code does not keep)', () => {
    const text = productionSources().map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(codes.filter((c) => !text.includes(`'${c}'`) && !text.includes(`"${c}"`))).toEqual([]);
  });

  it('the check sees a code missing on either side (it is not vacuous)', () => {
    const fewer = new Map(readme);
    fewer.delete('HITCH_CONFLICT');
    expect(codes.filter((c) => !fewer.has(c))).toEqual(['HITCH_CONFLICT']);
    expect(documented().has('HITCH_NOT_A_CODE')).toBe(false);
  });
});
