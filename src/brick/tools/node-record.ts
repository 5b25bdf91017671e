/**
 * open-iscsi node records written as files, the way iscsiadm itself stores them, instead of
 * `iscsiadm -m node -o new` followed by one `-o update` per setting: one atomic file write
 * instead of three to six processes before each login.
 *
 * The layout (open-iscsi `usr/idbm.c`, `idbm_rec_write`): under the nodes directory, one
 * directory per target; a record whose TPGT is unknown (-1, which is what `-o new -p ip:port`
 * makes) is the file `<ip>,<port>` in it, a discovered one `<ip>,<port>,<tpgt>/<iface>`.
 * A record file is `name = value` lines between `# BEGIN RECORD` and `# END RECORD`; iscsid
 * reads it leniently (comments skipped, unknown names ignored, missing settings at their
 * built-in defaults). A new record starts from iscsid.conf's `node.*` settings, as
 * `iscsiadm -o new` does; an existing one keeps its settings and gets ours over them.
 *
 *   # BEGIN RECORD
 *   node.name = iqn.2010-10.org.openstack:volume-0001
 *   node.tpgt = -1
 *   node.startup = automatic
 *   ...
 *   node.conn[0].port = 3260
 *   # END RECORD
 *
 * The file is root's alone (0600): it holds the CHAP secret, as iscsiadm's would. The secret
 * goes nowhere else — not in the span, the log or an error.
 */
import type { ChapCredentials, IscsiTarget } from '../connection-info.ts';
import { listIfPresent, readIfPresent } from './files.ts';
import type { BrickContext } from './run.ts';

/** Where Debian and Ubuntu keep node records. RHEL and Fedora: `/var/lib/iscsi/nodes`. */
export const DEBIAN_NODES_DIR = '/etc/iscsi/nodes';
/** iscsid's configuration; its `node.*` settings are the defaults of new records. */
export const ISCSID_CONF = '/etc/iscsi/iscsid.conf';

/** The settings Hitch decides; every other one comes from iscsid.conf or the existing record. */
const OURS = new Set([
  'node.name',
  'node.tpgt',
  'node.startup',
  'iface.iscsi_ifacename',
  'node.session.scan',
  'node.conn[0].address',
  'node.conn[0].port',
  'node.session.auth.authmethod',
  'node.session.auth.username',
  'node.session.auth.password',
]);

/** A portal's address and port as a record names them: `192.0.2.10`/`3260`, IPv6 without brackets. */
export function recordAddress(portal: string): { address: string; port: string } {
  const i = portal.lastIndexOf(':');
  const host = portal.slice(0, i);
  return { address: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port: portal.slice(i + 1) };
}

/**
 * `name = value` settings of a record or of iscsid.conf, read as open-iscsi reads them:
 * blank lines, comments and lines without a value skipped, the last occurrence wins.
 *
 *   node.session.timeo.replacement_timeout = 120
 */
export function parseRecordSettings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^\s=]+)\s*=\s*(.*)$/.exec(line);
    if (m && m[2] !== undefined && m[2] !== '') out.set(m[1] ?? '', m[2]);
  }
  return out;
}

export function renderRecord(settings: ReadonlyMap<string, string>): string {
  return `# BEGIN RECORD\n${[...settings].map(([k, v]) => `${k} = ${v}`).join('\n')}\n# END RECORD\n`;
}

/** A record of target `t` on this host: its file and settings, or where a new one goes. */
interface Located {
  readonly path: string;
  /** Settings of the record already there (null: none). */
  readonly existing: ReadonlyMap<string, string> | null;
  readonly tpgt: string;
}

async function readIf(ctx: BrickContext, path: string): Promise<string | null> {
  try {
    return await readIfPresent(ctx, path);
  } catch {
    // Unreadable is treated as absent, as before: a new record replaces it.
    return null;
  }
}

/**
 * What one connector (one Brick, long-lived) remembers between records, so that a new record
 * costs one `readdir` and the write:
 * - that the nodes directory exists (once seen, it stays: open-iscsi never removes it; while it
 *   is missing it is checked again each time);
 * - iscsid.conf's settings, read the first time a new record needs them and kept for the
 *   connector's life. An edit of iscsid.conf therefore reaches the records Hitch writes after
 *   the compute service restarts (or after `forgetDefaults()`), much as it reaches iscsid
 *   itself only when iscsid restarts. A failed read is not kept.
 */
export class NodeRecordCache {
  readonly #dirs = new Set<string>();
  #defaults: Promise<ReadonlyMap<string, string>> | null = null;
  readonly #listings = new Map<string, Promise<string[]>>();

  async nodesDirExists(ctx: BrickContext, nodesDir: string): Promise<boolean> {
    if (this.#dirs.has(nodesDir)) return true;
    const there = await ctx.host.exists(nodesDir);
    if (there) this.#dirs.add(nodesDir);
    return there;
  }

  defaults(ctx: BrickContext): Promise<ReadonlyMap<string, string>> {
    if (this.#defaults === null) {
      const read = readIfPresent(ctx, ISCSID_CONF).then((text) => parseRecordSettings(text ?? ''));
      this.#defaults = read;
      read.catch(() => {
        if (this.#defaults === read) this.#defaults = null;
      });
    }
    return this.#defaults;
  }

  /**
   * The entries of a target's directory. Listings asked for while one is in flight share it:
   * the portals of one volume write their records at the same moment, each under its own
   * target lock, and each looks only for its own portal's entries — which no other portal's
   * write adds or removes.
   */
  listTarget(ctx: BrickContext, dir: string): Promise<string[]> {
    const inflight = this.#listings.get(dir);
    if (inflight) return inflight;
    const p = listIfPresent(ctx, dir)
      .catch(() => [] as string[])
      .finally(() => this.#listings.delete(dir));
    this.#listings.set(dir, p);
    return p;
  }

  /** Read iscsid.conf again for the next new record. */
  forgetDefaults(): void {
    this.#defaults = null;
  }
}

/**
 * The record iscsiadm would pick for `-T <iqn> -p <ip>:<port>` on the default iface: the
 * TPGT-less file, else a discovered `<ip>,<port>,<tpgt>/default`; if neither, a new file.
 * One `readdir` of the target's directory says which (missing: a new record); only a record
 * that is there is read.
 */
async function locate(ctx: BrickContext, nodesDir: string, t: IscsiTarget, cache: NodeRecordCache): Promise<Located> {
  const { address, port } = recordAddress(t.portal);
  const dir = `${nodesDir}/${t.iqn}`;
  const plain = `${dir}/${address},${port}`;
  const entries = await cache.listTarget(ctx, dir);
  if (entries.includes(`${address},${port}`)) {
    const text = await readIf(ctx, plain);
    if (text !== null) return { path: plain, existing: parseRecordSettings(text), tpgt: '-1' };
  }
  for (const entry of entries) {
    const m = /^([^,]+),(\d+),(\d+)$/.exec(entry);
    if (!m || m[1] !== address || m[2] !== port) continue;
    const path = `${dir}/${entry}/default`;
    const found = await readIf(ctx, path);
    if (found !== null) return { path, existing: parseRecordSettings(found), tpgt: m[3] ?? '-1' };
  }
  return { path: plain, existing: null, tpgt: '-1' };
}

/**
 * Write (or rewrite) the node record of `t`: manual LUN scan (only the LUN asked for is
 * scanned, not every LUN the target exports to us), startup automatic (log in again at boot;
 * a failed login deletes the record), CHAP when given. Returns false, having written nothing,
 * when this host cannot take it — no nodes directory (open-iscsi keeps its records elsewhere)
 * or a Host without atomic writes — and the caller uses iscsiadm instead.
 */
export async function writeNodeRecord(
  ctx: BrickContext,
  nodesDir: string,
  t: IscsiTarget,
  auth: ChapCredentials | null,
  cache: NodeRecordCache = new NodeRecordCache(),
): Promise<boolean> {
  if (!ctx.host.capabilities.atomicWrite || !(await cache.nodesDirExists(ctx, nodesDir))) return false;
  return ctx.span.run('write node record', { portal: t.portal, iqn: t.iqn }, async (span) => {
    const at = await locate(ctx, nodesDir, t, cache);
    const base = at.existing ?? (await cache.defaults(ctx).catch(() => new Map<string, string>()));
    const { address, port } = recordAddress(t.portal);
    const s = new Map<string, string>([
      ['node.name', t.iqn],
      ['node.tpgt', at.tpgt],
      ['node.startup', 'automatic'],
      ['iface.iscsi_ifacename', 'default'],
      ['iface.transport_name', base.get('iface.transport_name') ?? 'tcp'],
      ['node.discovery_type', base.get('node.discovery_type') ?? 'static'],
    ]);
    // iscsid.conf's node.* for a new record (iscsid.conf also holds discovery and daemon settings).
    for (const [k, v] of base) if (!OURS.has(k) && !s.has(k) && (at.existing !== null || k.startsWith('node.'))) s.set(k, v);
    for (const k of ['node.session.auth.authmethod', 'node.session.auth.username', 'node.session.auth.password']) {
      const keep = base.get(k);
      if (keep !== undefined) s.set(k, keep);
    }
    if (auth) {
      s.set('node.session.auth.authmethod', auth.method);
      s.set('node.session.auth.username', auth.username);
      s.set('node.session.auth.password', auth.password);
    }
    s.set('node.session.scan', 'manual');
    s.set('node.conn[0].address', address);
    s.set('node.conn[0].port', port);
    span.set({ path: at.path, existing: at.existing !== null, chap: auth !== null });
    await ctx.host.writeFileAtomic(at.path, renderRecord(s), { mode: 0o600, ...(auth ? { secrets: [auth.password] } : {}) });
    return true;
  });
}
