/**
 * What the kernel shows of NVMe over Fabrics in sysfs (Linux 6.1, recorded in the storage host
 * guest: `src/sim/testdata/nvme/`), read through the Host port:
 *
 * - `/sys/class/nvme-subsystem/nvme-subsysN/subsysnqn`, `model`, `serial`; the subsystem's
 *   directory lists its controllers (`nvmeX`, links) and, with native multipath, the namespace
 *   heads (`nvmeNnM`: one block device over every controller);
 * - `/sys/class/nvme/nvmeX/{state,address,transport}`: `live`, `connecting`, `resetting`,
 *   `deleting`…; `traddr=127.0.0.2,trsvcid=4420,src_addr=127.0.0.1` (no `src_addr` while it
 *   reconnects); without native multipath the controller's directory lists its namespaces
 *   (`nvmeXnM`), one block device per path;
 * - `/sys/block/<ns>/{uuid,nguid,nsid,ro}`.
 */
import { listIfPresent, readIfPresent } from '../tools/files.ts';
import type { BrickContext } from '../tools/run.ts';
import type { NamespaceId, NvmePortal } from '../nvmeof-connection-info.ts';

export const SUBSYSTEM_CLASS = '/sys/class/nvme-subsystem';
export const CONTROLLER_CLASS = '/sys/class/nvme';

export interface NvmeController {
  /** `nvmeX`. */
  readonly name: string;
  readonly state: string;
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
}

export interface NvmeSubsystem {
  /** `nvme-subsysN`. */
  readonly name: string;
  readonly controllers: readonly NvmeController[];
  /** Namespace heads (`nvmeNnM`), present with native multipath. */
  readonly heads: readonly string[];
}

/** `traddr=…,trsvcid=…,src_addr=…` → its fields. */
export function parseControllerAddress(text: string): { traddr: string; trsvcid: string } {
  const fields = new Map(
    text
      .trim()
      .split(',')
      .map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)] as const;
      }),
  );
  return { traddr: fields.get('traddr') ?? '', trsvcid: fields.get('trsvcid') ?? '' };
}

export function controllerServes(c: NvmeController, p: NvmePortal): boolean {
  return c.transport === p.transport && c.traddr === p.address && c.trsvcid === p.port;
}

/** The subsystem with this NQN on the host, or null: one `readdir`, one batched read, one `readdir`. */
export async function findSubsystem(ctx: BrickContext, nqn: string): Promise<NvmeSubsystem | null> {
  const names = (await listIfPresent(ctx, SUBSYSTEM_CLASS)).filter((n) => /^nvme-subsys\d+$/.test(n));
  if (names.length === 0) return null;
  const nqns = await ctx.host.readFiles(names.map((n) => `${SUBSYSTEM_CLASS}/${n}/subsysnqn`));
  const name = names.find((_, i) => nqns[i]?.trim() === nqn);
  if (!name) return null;
  const entries = await listIfPresent(ctx, `${SUBSYSTEM_CLASS}/${name}`);
  const ctrlNames = entries.filter((e) => /^nvme\d+$/.test(e));
  const files = await ctx.host.readFiles(ctrlNames.flatMap((c) => ['state', 'address', 'transport'].map((f) => `${CONTROLLER_CLASS}/${c}/${f}`)));
  const controllers: NvmeController[] = [];
  ctrlNames.forEach((c, i) => {
    const [state, address, transport] = [files[3 * i], files[3 * i + 1], files[3 * i + 2]];
    // A controller that went away between the readdir and the read is not there.
    if (state === null || state === undefined || address === null || address === undefined) return;
    controllers.push({ name: c, state: state.trim(), transport: (transport ?? '').trim(), ...parseControllerAddress(address) });
  });
  return { name, controllers, heads: entries.filter((e) => /^nvme\d+n\d+$/.test(e)) };
}

export interface NamespaceAttrs {
  readonly uuid: string | null;
  readonly nguid: string | null;
  readonly nsid: number | null;
}

/** `uuid`, `nguid`, `nsid` of block devices, in one read. */
export async function namespaceAttrs(ctx: BrickContext, devs: readonly string[]): Promise<NamespaceAttrs[]> {
  const files = await ctx.host.readFiles(devs.flatMap((d) => ['uuid', 'nguid', 'nsid'].map((f) => `/sys/block/${d}/${f}`)));
  return devs.map((_, i) => {
    const nsid = files[3 * i + 2]?.trim();
    return {
      uuid: files[3 * i]?.trim().toLowerCase() ?? null,
      nguid: files[3 * i + 1]?.trim().toLowerCase().replaceAll('-', '') ?? null,
      nsid: nsid && /^\d+$/.test(nsid) ? Number(nsid) : null,
    };
  });
}

export function namespaceMatches(a: NamespaceAttrs, ns: NamespaceId): boolean {
  if (ns.kind === 'uuid') return a.uuid === ns.value;
  if (ns.kind === 'nguid') return a.nguid === ns.value;
  return a.nsid === ns.value;
}

/** The namespace block devices a controller shows itself (without native multipath). */
export async function controllerNamespaces(ctx: BrickContext, controller: string): Promise<string[]> {
  return (await listIfPresent(ctx, `${CONTROLLER_CLASS}/${controller}`)).filter((e) => /^nvme\d+n\d+$/.test(e));
}

/** dm maps holding a block device (`/sys/block/<dev>/holders`). */
export async function holders(ctx: BrickContext, dev: string): Promise<string[]> {
  return listIfPresent(ctx, `/sys/block/${dev}/holders`);
}

export async function isReadOnly(ctx: BrickContext, dev: string): Promise<boolean> {
  return (await readIfPresent(ctx, `/sys/block/${dev}/ro`))?.trim() === '1';
}

/** `/sys/module/nvme_core/parameters/multipath`: `Y` when the kernel's native NVMe multipath is on. */
export const NATIVE_MULTIPATH_PARAM = '/sys/module/nvme_core/parameters/multipath';
