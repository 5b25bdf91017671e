/**
 * Volume transfers: `/os-volume-transfer` (every version) and `/volume-transfers` (3.55+, with
 * `no_snapshots`; 3.57 adds the history fields). Create answers the auth key once; accept
 * moves the volume to the accepting project.
 */
import { validate } from '../../http/validate.ts';
import { requireVersion, type RequestState } from '../api-context.ts';
import { acceptTransferSchema, createTransferSchema } from '../request-schemas.ts';
import type { TransferRow } from '../transfer-service.ts';
import type { VolumeService } from '../volume-service.ts';
import { allTenants, boolOf, checkUuid, type Query, type RouteFn } from './common.ts';

export function registerTransferRoutes(route: RouteFn, svc: VolumeService): void {
  const transfers = svc.transfers;

  for (const [prefix, since] of [['/os-volume-transfer', null], ['/volume-transfers', '3.55']] as const) {
    const gate = (state: RequestState) => {
      if (since !== null) requireVersion(state, since);
    };
    const links = (state: RequestState, id: string) => [
      { href: `${state.baseUrl}${prefix}/${id}`, rel: 'self' },
      { href: `${state.bookmarkUrl}${prefix}/${id}`, rel: 'bookmark' },
    ];
    const summary = (t: TransferRow, state: RequestState) => ({ id: t.id, volume_id: t.volume_id, name: t.name, links: links(state, t.id) });
    const detail = (t: TransferRow, state: RequestState, authKey?: string) => ({
      id: t.id,
      created_at: t.created_at,
      name: t.name,
      volume_id: t.volume_id,
      ...(authKey !== undefined ? { auth_key: authKey } : {}),
      links: links(state, t.id),
      ...(state.version.atLeast('3.55') ? { no_snapshots: t.no_snapshots === 1 } : {}),
      ...(state.version.atLeast('3.57') ? { destination_project_id: null, source_project_id: t.source_project_id, accepted: false } : {}),
    });

    const list = (isDetail: boolean) => async (req: { query: unknown }, state: RequestState) => {
      gate(state);
      const rows = await transfers.list(state.caller, allTenants(req.query as Query, state));
      return { transfers: rows.map((t) => (isDetail ? detail(t, state) : summary(t, state))) };
    };
    route('GET', prefix, async (req, _reply, state) => list(false)(req, state));
    route('GET', `${prefix}/detail`, async (req, _reply, state) => list(true)(req, state));

    route('GET', `${prefix}/:id`, async (req, _reply, state) => {
      gate(state);
      const { id } = req.params as { id: string };
      checkUuid(id, 'Transfer');
      return { transfer: detail(await transfers.get(state.caller, id), state) };
    });

    route('POST', prefix, async (req, reply, state) => {
      gate(state);
      const withNoSnapshots = since !== null;
      validate(createTransferSchema(withNoSnapshots), req.body);
      const b = (req.body as { transfer: { volume_id: string; name?: string | null; no_snapshots?: unknown } }).transfer;
      const { transfer, authKey } = await transfers.create(state.caller, {
        volumeId: b.volume_id,
        name: b.name === undefined || b.name === null ? null : b.name.trim(),
        noSnapshots: withNoSnapshots && b.no_snapshots !== undefined ? boolOf(b.no_snapshots, 'no_snapshots') : false,
      });
      return reply.code(202).send({ transfer: detail(transfer, state, authKey) });
    });

    route('POST', `${prefix}/:id/accept`, async (req, reply, state) => {
      gate(state);
      const { id } = req.params as { id: string };
      checkUuid(id, 'Transfer');
      validate(acceptTransferSchema, req.body);
      const t = await transfers.accept(state.caller, id, String((req.body as { accept: { auth_key: string | number } }).accept.auth_key));
      return reply.code(202).send({ transfer: summary(t, state) });
    });

    route('DELETE', `${prefix}/:id`, async (req, reply, state) => {
      gate(state);
      const { id } = req.params as { id: string };
      checkUuid(id, 'Transfer');
      await transfers.delete(state.caller, id);
      return reply.code(202).send();
    });
  }
}
