/**
 * libiscsi's user-space tools, as QEMU's native iSCSI mode probes a target without a kernel
 * session: `iscsi-ls`, `iscsi-inq`, `iscsi-readcapacity16`, with the text and exit codes of
 * fixture `libiscsi-bin-vs-tgt.txt`:
 *
 *   $ iscsi-ls -s -i iqn.2024-01.org.peers:initiator1 iscsi://127.0.0.1:3260
 *   Target:iqn.2024-01.org.peers:vol1 Portal:127.0.0.1:3260,1
 *   Lun:1    Type:DIRECT_ACCESS (Size:63M)
 *
 * A dead (or unserved) portal makes the tool hang until the caller's timeout, as a TCP
 * connect to a black hole does.
 */
import type { SimLun } from '../array.ts';
import { portalKey } from '../network.ts';
import type { TargetAtPortal } from '../world.ts';
import type { CommandContext, CommandOutput } from './command.ts';
import { lines, out } from './command.ts';

interface IscsiUrl {
  readonly portal: string;
  readonly target?: string;
  readonly lun?: number;
  readonly user?: string;
  readonly password?: string;
}

/** `iscsi://[user%password@]host[:port][/target[/lun]]` */
export function parseIscsiUrl(url: string): IscsiUrl | undefined {
  const m = /^iscsi:\/\/(?:([^%@/]+)%([^@/]*)@)?([^/]+?)(?:\/([^/]+)(?:\/(\d+))?)?\/?$/.exec(url);
  if (!m || m[3] === undefined) return undefined;
  let portal: string;
  try {
    portal = portalKey(m[3]);
  } catch {
    return undefined;
  }
  return {
    portal,
    ...(m[4] !== undefined ? { target: decodeURIComponent(m[4]) } : {}),
    ...(m[5] !== undefined ? { lun: Number(m[5]) } : {}),
    ...(m[1] !== undefined ? { user: decodeURIComponent(m[1]), password: decodeURIComponent(m[2] ?? '') } : {}),
  };
}

function parseArgs(ctx: CommandContext): { initiator?: string; url?: IscsiUrl; rawUrl?: string; flags: Set<string>; page?: number; evpd: boolean } {
  const flags = new Set<string>();
  let initiator: string | undefined;
  let rawUrl: string | undefined;
  let page: number | undefined;
  let evpd = false;
  for (let i = 0; i < ctx.args.length; i++) {
    const a = ctx.args[i] ?? '';
    if (a === '-i' || a === '--initiator-name') initiator = ctx.args[++i];
    else if (a === '-e' || a === '--evpd') evpd = ctx.args[++i] === '1';
    // libiscsi reads the page code with atoi(): `-c 0x83` is page 0, `-c 131` is 0x83.
    else if (a === '-c' || a === '--pagecode') page = Number.parseInt(ctx.args[++i] ?? '0', 10) || 0;
    else if (a.startsWith('iscsi://')) rawUrl = a;
    else flags.add(a);
  }
  const url = rawUrl === undefined ? undefined : parseIscsiUrl(rawUrl);
  return { flags, evpd, ...(initiator !== undefined ? { initiator } : {}), ...(url ? { url } : {}), ...(rawUrl !== undefined ? { rawUrl } : {}), ...(page !== undefined ? { page } : {}) };
}

type Connect = { ok: true } | { ok: false; result: CommandOutput };

/** TCP connect to the portal: dead hangs, refusing fails, slow costs latency. */
async function connect(ctx: CommandContext, portal: string, what: 'discovery' | 'login'): Promise<Connect> {
  const st = ctx.world.network.get(portal);
  if (st.kind === 'refusing') {
    const text = what === 'discovery' ? 'discoveryconnect_cb: connection failed : iscsi_service: socket error Connection refused(111).' : 'Login Failed. iscsi_service: socket error Connection refused(111).';
    return { ok: false, result: out(10, '', `${text}\n`) };
  }
  if (st.kind === 'dead' || !ctx.world.portalServed(portal)) await ctx.sleep(Number.POSITIVE_INFINITY);
  await ctx.sleep(ctx.world.latency.loginRttMs + 2 * st.latencyMs);
  return { ok: true };
}

const LOGIN_FAILED = (status: string): CommandOutput => out(10, '', `Login Failed. Failed to log in to target. Status: ${status}\n`);

/** The full-feature login libiscsi makes: target, ACL, CHAP. */
function authorize(ctx: CommandContext, found: TargetAtPortal | undefined, initiator: string, url: IscsiUrl): string | undefined {
  if (found === undefined) return 'Target not found(515)';
  const acl = found.target.acls.get(initiator);
  if (acl === undefined) return 'Authorization failure(514)';
  if (acl.chapUser !== undefined && (url.user !== acl.chapUser || url.password !== acl.chapPassword)) return 'Authentication failure(513)';
  const f = ctx.world.faults.hit('login-auth-failure', { now: ctx.world.clock.now(), host: ctx.host.name, portal: url.portal, target: found.target.iqn });
  return f ? 'Authentication failure(513)' : undefined;
}

/** libiscsi's size: last LBA × block size, divided down while above 1024, printed with %d. */
function libiscsiSize(lun: SimLun): string {
  let size = (Math.floor(lun.sizeBytes / 512) - 1) * 512;
  const units = ['', 'k', 'M', 'G', 'T'];
  let u = 0;
  while (size > 1024 && u < units.length - 1) {
    size /= 1024;
    u++;
  }
  return `${Math.floor(size)}${units[u]}`;
}

export async function iscsiLs(ctx: CommandContext): Promise<CommandOutput> {
  const a = parseArgs(ctx);
  if (a.initiator === undefined || a.url === undefined) return out(10, '', 'Usage: iscsi-ls [-?] [-?|--help] [--usage] [-i|--initiator-name=iqn-name] [-s|--show-luns] <iscsi-portal-url>\n');
  const c = await connect(ctx, a.url.portal, 'discovery');
  if (!c.ok) return c.result;
  const o: string[] = [];
  for (const found of ctx.world.targetsAt(a.url.portal)) {
    if (!found.target.acls.has(a.initiator)) continue;
    o.push(`Target:${found.target.iqn} Portal:${a.url.portal},${found.target.tpgt}`);
    if (!a.flags.has('-s') && !a.flags.has('--show-luns')) continue;
    const denied = authorize(ctx, found, a.initiator, a.url);
    if (denied !== undefined) return out(10, lines(o), `list_luns: iscsi_connect failed. Failed to log in to target. Status: ${denied}\n`);
    for (const l of ctx.world.visibleLuns(found, a.initiator)) o.push(`Lun:${l.lun}    Type:DIRECT_ACCESS (Size:${libiscsiSize(l)})`);
  }
  return out(0, lines(o));
}

async function lunAt(ctx: CommandContext): Promise<{ lun: SimLun } | { result: CommandOutput }> {
  const a = parseArgs(ctx);
  if (a.initiator === undefined || a.url?.target === undefined || a.url.lun === undefined) {
    return { result: out(10, '', `${ctx.cmd}: invalid or missing iscsi url\n`) };
  }
  const c = await connect(ctx, a.url.portal, 'login');
  if (!c.ok) return { result: c.result };
  const found = ctx.world.findTarget(a.url.target, a.url.portal);
  const denied = authorize(ctx, found, a.initiator, a.url);
  if (denied !== undefined || found === undefined) return { result: LOGIN_FAILED(denied ?? 'Target not found(515)') };
  const lun = ctx.world.visibleLuns(found, a.initiator).find((l) => l.lun === a.url?.lun);
  if (lun === undefined) return { result: out(10, '', 'SCSI command failed: SENSE KEY:ILLEGAL_REQUEST(5) ASCQ:LOGICAL_UNIT_NOT_SUPPORTED(0x2500)\n') };
  return { lun };
}

export async function iscsiReadcapacity16(ctx: CommandContext): Promise<CommandOutput> {
  const r = await lunAt(ctx);
  if ('result' in r) return r.result;
  const blocks = Math.floor(r.lun.sizeBytes / 512);
  return out(
    0,
    lines([
      `RETURNED LOGICAL BLOCK ADDRESS:${blocks - 1}`,
      'LOGICAL BLOCK LENGTH IN BYTES:512',
      'P_TYPE:0 PROT_EN:0',
      'P_I_EXPONENT:0 LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:3',
      'LBPME:0 LBPRZ:0',
      'LOWEST ALIGNED LOGICAL BLOCK ADDRESS:0',
      `Total size:${blocks * 512}`,
    ]),
  );
}

export async function iscsiInq(ctx: CommandContext): Promise<CommandOutput> {
  const a = parseArgs(ctx);
  const r = await lunAt(ctx);
  if ('result' in r) return r.result;
  const l = r.lun;
  if (!a.evpd) {
    return out(
      0,
      lines([
        'Peripheral Qualifier:CONNECTED',
        'Peripheral Device Type:DIRECT_ACCESS',
        'Removable:0',
        'Version:5 ANSI INCITS 408-2005 (SPC-3)',
        'NormACA:0',
        'HiSup:1',
        'ReponseDataFormat:2',
        'SCCS:0',
        'ACC:0',
        'TPGS:0',
        '3PC:0',
        'Protect:0',
        'EncServ:0',
        'MultiP:0',
        'SYNC:0',
        'CmdQue:1',
        `Vendor:${l.vendor.padEnd(8)}`,
        `Product:${l.model.padEnd(16)}`,
        'Revision:0001',
        'Version Descriptor:04c0 SBC-3',
        'Version Descriptor:0960 iSCSI',
        'Version Descriptor:0300 SPC-3',
      ]),
    );
  }
  switch (a.page ?? 0) {
    case 0x80:
      return out(0, `Unit Serial Number:[${l.wwn.slice(-12).padStart(36)}]\n`);
    case 0x83:
      return out(
        0,
        lines([
          'Peripheral Qualifier:CONNECTED',
          'Peripheral Device Type:DIRECT_ACCESS',
          'Page Code:(0x83) DEVICE_IDENTIFICATION',
          'DEVICE DESIGNATOR #0',
          'Code Set:(1) BINARY',
          'PIV:0',
          'Association:(0) LOGICAL_UNIT',
          'Designator Type:(3) NAA',
          `Designator:[${l.wwn.slice(1)}]`,
        ]),
      );
    default:
      return out(
        0,
        lines(['Page:0x00 SUPPORTED_VPD_PAGES', 'Page:0x80 UNIT_SERIAL_NUMBER', 'Page:0x83 DEVICE_IDENTIFICATION', 'Page:0xb0 BLOCK_LIMITS', 'Page:0xb1 BLOCK_DEVICE_CHARACTERISTICS', 'Page:0xb2 LOGICAL_BLOCK_PROVISIONING']),
      );
  }
}
