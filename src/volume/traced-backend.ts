/**
 * A backend whose calls are spans under the caller's span when one is in scope (the compute
 * service's in-process call, `trace/scope.ts`): `backend sim export` under `block-storage PUT
 * /v3/attachments/{id}`, so `hitch explain` breaks the block storage call down into the
 * backend's export and the service's own work (the rest of the parent span). With no span in
 * scope (a volume create from the API) the calls run as they are.
 *
 * Attributes name the backend and what it exported (target, portals, transport); never the
 * connection's credentials.
 */
import type { ConnectionInfo, ConnectorProperties } from '../ports/attach.ts';
import type { SpanAttrs } from '../ports/span.ts';
import type { BackendVolume, VolumeBackend } from '../ports/volume-backend.ts';
import { spanInScope } from '../trace/scope.ts';

/** What a span may say of a connection: where it leads, not how to log in. */
function exported(ci: ConnectionInfo): SpanAttrs {
  const attrs: SpanAttrs = { driver_volume_type: ci.driver_volume_type };
  switch (ci.driver_volume_type) {
    case 'iscsi': {
      const d = ci.data;
      if (d.target_iqn !== undefined) attrs['target_iqn'] = d.target_iqn;
      if (d.target_lun !== undefined) attrs['target_lun'] = d.target_lun;
      if (d.target_portals) attrs['portals'] = d.target_portals.length;
      break;
    }
    case 'nvmeof':
      attrs['target_nqn'] = ci.data.target_nqn;
      attrs['portals'] = ci.data.portals.length;
      break;
  }
  return attrs;
}

export function tracedBackend(b: VolumeBackend): VolumeBackend {
  const traced = <T>(what: string, attrs: SpanAttrs, fn: () => Promise<T>, after?: (r: T) => SpanAttrs): Promise<T> => {
    const parent = spanInScope();
    if (!parent) return fn();
    return parent.run(`backend ${b.name} ${what}`, { backend: b.name, backend_host: b.host, ...attrs }, async (s) => {
      const r = await fn();
      if (after) s.set(after(r));
      return r;
    });
  };
  const calls: Partial<VolumeBackend> = {
    createVolume: (v) => traced('create', { volume_id: v.id, size_gib: v.size }, () => b.createVolume(v)),
    deleteVolume: (v: BackendVolume) => traced('delete', { volume_id: v.id }, () => b.deleteVolume(v)),
    initializeConnection: (v: BackendVolume, c: ConnectorProperties) => traced('export', { volume_id: v.id }, () => b.initializeConnection(v, c), exported),
    terminateConnection: (v: BackendVolume, c: ConnectorProperties | null) => traced('unexport', { volume_id: v.id, every_host: c === null }, () => b.terminateConnection(v, c)),
  };
  // Whatever else a backend offers (a method added to the port later, a driver's own) passes through.
  return new Proxy(b, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in calls) return calls[prop as keyof VolumeBackend];
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
