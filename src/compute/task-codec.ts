/**
 * What crosses the scale-out task queue (`compute_tasks.payload` and `.result`), read back with
 * its shape checked: the API process writes a payload, an agent process reads it; the agent
 * writes the result (the operation and its BDM, connection_info included), the API reads it.
 * The two may run different builds during an upgrade, and the row lives in a database others
 * can write, so nothing is trusted by a cast: a row that does not parse is a clear
 * `HITCH_QUEUE_TASK_MALFORMED`, never a server answered with half a BDM.
 */
import { HitchError } from '../errors.ts';
import type { DomainSpec } from '../ports/hypervisor.ts';
import type { RequestMeta } from './operation-journal.ts';
import type { BdmRow } from './repository.ts';

/** An attach, detach, extend, spawn or destroy for one server, as the API process queued it. */
export interface TaskPayload {
  readonly serverId: string;
  readonly spec?: DomainSpec;
  readonly volumeId?: string;
  readonly device?: string | null;
  readonly meta?: RequestMeta;
}

/** What an agent reports of an attach, detach or extend once the operation is reserved. */
export interface TaskResult {
  readonly operationId: string;
  readonly bdm: BdmRow;
}

type Obj = Readonly<Record<string, unknown>>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function malformed(taskId: string, why: string): HitchError {
  return new HitchError('HITCH_QUEUE_TASK_MALFORMED', { task: taskId, detail: why });
}

function parseObject(taskId: string, what: string, text: string): Obj {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed(taskId, `its ${what} is not JSON`);
  }
  if (!isObj(raw)) throw malformed(taskId, `its ${what} is not an object`);
  return raw;
}

function str(o: Obj, key: string, taskId: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw malformed(taskId, `${where}.${key} is not a string`);
  return v;
}

function optStr(o: Obj, key: string, taskId: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw malformed(taskId, `${where}.${key} is not a string`);
  return v;
}

function nullableStr(o: Obj, key: string, taskId: string, where: string): string | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw malformed(taskId, `${where}.${key} is not a string or null`);
  return v;
}

function nullableNum(o: Obj, key: string, taskId: string, where: string): number | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw malformed(taskId, `${where}.${key} is not a number or null`);
  return v;
}

function readMeta(v: unknown, taskId: string): RequestMeta {
  if (!isObj(v)) throw malformed(taskId, 'payload.meta is not an object');
  const userId = optStr(v, 'userId', taskId, 'payload.meta');
  return { requestId: str(v, 'requestId', taskId, 'payload.meta'), projectId: str(v, 'projectId', taskId, 'payload.meta'), ...(userId !== undefined ? { userId } : {}) };
}

function readSpec(v: unknown, taskId: string): DomainSpec {
  const at = 'payload.spec';
  if (!isObj(v)) throw malformed(taskId, `${at} is not an object`);
  const num = (k: string): number => {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw malformed(taskId, `${at}.${k} is not a positive integer`);
    return n;
  };
  const virtType = v['virtType'];
  if (virtType !== 'qemu' && virtType !== 'kvm') throw malformed(taskId, `${at}.virtType is not qemu or kvm`);
  let boot: DomainSpec['boot'];
  if (v['boot'] !== undefined) {
    const b = v['boot'];
    if (!isObj(b)) throw malformed(taskId, `${at}.boot is not an object`);
    const initrd = optStr(b, 'initrd', taskId, `${at}.boot`);
    const cmdline = optStr(b, 'cmdline', taskId, `${at}.boot`);
    boot = { kernel: str(b, 'kernel', taskId, `${at}.boot`), ...(initrd !== undefined ? { initrd } : {}), ...(cmdline !== undefined ? { cmdline } : {}) };
  }
  let console: DomainSpec['console'];
  if (v['console'] !== undefined) {
    const c = v['console'];
    if (!isObj(c)) throw malformed(taskId, `${at}.console is not an object`);
    if (c['kind'] === 'pty') console = { kind: 'pty' };
    else if (c['kind'] === 'file') console = { kind: 'file', path: str(c, 'path', taskId, `${at}.console`) };
    else throw malformed(taskId, `${at}.console.kind is not pty or file`);
  }
  const bootsFromVolume = v['bootsFromVolume'];
  if (bootsFromVolume !== undefined && typeof bootsFromVolume !== 'boolean') throw malformed(taskId, `${at}.bootsFromVolume is not a boolean`);
  const emulator = optStr(v, 'emulator', taskId, at);
  return {
    name: str(v, 'name', taskId, at),
    uuid: str(v, 'uuid', taskId, at),
    memoryMiB: num('memoryMiB'),
    vcpus: num('vcpus'),
    virtType,
    ...(boot ? { boot } : {}),
    ...(bootsFromVolume !== undefined ? { bootsFromVolume } : {}),
    ...(console ? { console } : {}),
    ...(emulator !== undefined ? { emulator } : {}),
  };
}

/** A queued task's payload, its shape checked. */
export function readTaskPayload(taskId: string, text: string): TaskPayload {
  const o = parseObject(taskId, 'payload', text);
  const volumeId = optStr(o, 'volumeId', taskId, 'payload');
  const device = o['device'] === undefined ? undefined : nullableStr(o, 'device', taskId, 'payload');
  return {
    serverId: str(o, 'serverId', taskId, 'payload'),
    ...(o['spec'] !== undefined ? { spec: readSpec(o['spec'], taskId) } : {}),
    ...(volumeId !== undefined ? { volumeId } : {}),
    ...(device !== undefined ? { device } : {}),
    ...(o['meta'] !== undefined ? { meta: readMeta(o['meta'], taskId) } : {}),
  };
}

function readBdm(v: unknown, taskId: string): BdmRow {
  const at = 'result.bdm';
  if (!isObj(v)) throw malformed(taskId, `${at} is not an object`);
  return {
    id: str(v, 'id', taskId, at),
    server_id: str(v, 'server_id', taskId, at),
    volume_id: str(v, 'volume_id', taskId, at),
    device_name: str(v, 'device_name', taskId, at),
    attachment_id: nullableStr(v, 'attachment_id', taskId, at),
    status: str(v, 'status', taskId, at),
    connection_info: nullableStr(v, 'connection_info', taskId, at),
    device_info: nullableStr(v, 'device_info', taskId, at),
    cinder_flow: str(v, 'cinder_flow', taskId, at),
    created_at: str(v, 'created_at', taskId, at),
    updated_at: nullableStr(v, 'updated_at', taskId, at),
    boot_index: nullableNum(v, 'boot_index', taskId, at),
    delete_on_termination: nullableNum(v, 'delete_on_termination', taskId, at),
    source_type: nullableStr(v, 'source_type', taskId, at),
    image_id: nullableStr(v, 'image_id', taskId, at),
    volume_size: nullableNum(v, 'volume_size', taskId, at),
    volume_type: nullableStr(v, 'volume_type', taskId, at),
    tag: nullableStr(v, 'tag', taskId, at),
  };
}

/** An agent's result for an attach, detach or extend, its shape checked. */
export function readTaskResult(taskId: string, text: string | null): TaskResult {
  if (text === null) throw malformed(taskId, 'it has no result');
  const o = parseObject(taskId, 'result', text);
  return { operationId: str(o, 'operationId', taskId, 'result'), bdm: readBdm(o['bdm'], taskId) };
}
