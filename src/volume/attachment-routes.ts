/**
 * The attachments API (microversion 3.27+; `os-complete` 3.44+; `mode` 3.54+).
 */
import { HitchError } from '../errors.ts';
import { isUuid, validate } from '../http/validate.ts';
import { requireVersion } from './api-context.ts';
import { connectorOrNull, parseConnector } from './connector.ts';
import { createAttachmentSchema, updateAttachmentSchema } from './request-schemas.ts';
import type { AttachmentRow } from './volume-repo.ts';
import type { VolumeService } from './volume-service.ts';
import { attachmentDetailView, attachmentSummaryView } from './views.ts';
import { parseLimit, type RouteFn } from './volume-routes.ts';

type Query = Record<string, string | undefined>;

function checkId(id: string): void {
  if (!isUuid(id)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'VolumeAttachment', id }, { message: `VolumeAttachment ${id} could not be found.` });
}

export function registerAttachmentRoutes(route: RouteFn, svc: VolumeService): void {
  const list = (detail: boolean) => async (req: { query: unknown }, state: Parameters<Parameters<RouteFn>[2]>[2]) => {
    requireVersion(state, '3.27');
    const q = req.query as Query;
    const allTenants = q.all_tenants !== undefined && ['1', 'true', 'True'].includes(q.all_tenants);
    const limit = parseLimit(q);
    let marker: AttachmentRow | undefined;
    if (q.marker !== undefined) {
      marker = await svc.repo.getAttachment(q.marker);
      if (!marker || (!(state.caller.isAdmin && allTenants) && marker.project_id !== state.caller.projectId)) {
        throw new HitchError('HITCH_NOT_FOUND', { kind: 'Marker', id: q.marker }, { message: `Marker ${q.marker} could not be found.` });
      }
    }
    const rows = await svc.listAttachments(state.caller, { allTenants, volumeId: q.volume_id, instanceId: q.instance_id ?? q.instance_uuid, status: q.status }, limit, marker);
    const body: Record<string, unknown> = { attachments: rows.map((r) => (detail ? attachmentDetailView(r, state.caller) : attachmentSummaryView(r))) };
    const last = rows[rows.length - 1];
    if (rows.length === limit && last) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (k !== 'marker' && typeof v === 'string') params.set(k, v);
      params.set('marker', last.id);
      body['attachments_links'] = [{ href: `${state.baseUrl}/attachments${detail ? '/detail' : ''}?${params.toString()}`, rel: 'next' }];
    }
    return body;
  };
  route('GET', '/attachments', async (req, _reply, state) => list(false)(req, state));
  route('GET', '/attachments/detail', async (req, _reply, state) => list(true)(req, state));

  route('GET', '/attachments/:id', async (req, _reply, state) => {
    requireVersion(state, '3.27');
    const { id } = req.params as { id: string };
    checkId(id);
    return { attachment: attachmentDetailView(await svc.getAttachment(state.caller, id), state.caller) };
  });

  route('POST', '/attachments', async (req, _reply, state) => {
    requireVersion(state, '3.27');
    validate(createAttachmentSchema(state.version.atLeast('3.54')), req.body);
    const a = (req.body as { attachment: { volume_uuid: string; instance_uuid?: string | null; connector?: unknown; mode?: 'rw' | 'ro' } }).attachment;
    const connector = connectorOrNull(a.connector);
    const row = await svc.createAttachment(state.caller, { volumeId: a.volume_uuid, instanceUuid: a.instance_uuid ?? null, connector, mode: a.mode ?? null });
    return { attachment: attachmentDetailView(row, state.caller) };
  });

  route('PUT', '/attachments/:id', async (req, _reply, state) => {
    requireVersion(state, '3.27');
    const { id } = req.params as { id: string };
    checkId(id);
    validate(updateAttachmentSchema, req.body);
    const connector = parseConnector((req.body as { attachment: { connector: unknown } }).attachment.connector);
    return { attachment: attachmentDetailView(await svc.updateAttachment(state.caller, id, connector), state.caller) };
  });

  route('DELETE', '/attachments/:id', async (req, _reply, state) => {
    requireVersion(state, '3.27');
    const { id } = req.params as { id: string };
    checkId(id);
    const remaining = await svc.deleteAttachment(state.caller, id);
    return { attachments: remaining.map(attachmentSummaryView) };
  });

  route('POST', '/attachments/:id/action', async (req, reply, state) => {
    requireVersion(state, '3.44');
    const { id } = req.params as { id: string };
    checkId(id);
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) {
      throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' });
    }
    const action = Object.keys(body)[0] as string;
    if (action !== 'os-complete') throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: action }, { message: `There is no such action: ${action}` });
    await svc.completeAttachment(state.caller, id);
    return reply.code(204).send();
  });
}
