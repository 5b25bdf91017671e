/**
 * Cinder's response bodies, field for field, gated by microversion and by admin context the
 * way Cinder's view builders and API extensions gate them (checked against tempest's
 * `api_schema/response/volume/` schemas, which are strict: no extra fields).
 */
import type { ApiVersion } from '../http/microversion.ts';
import { connectionInfoFor } from './connection-secrets.ts';
import type { AttachmentRow, VolumeRow, VolumeTypeRow } from './volume-repo.ts';

export interface ViewContext {
  readonly version: ApiVersion;
  readonly isAdmin: boolean;
  /** `http://host:port/volume/v3/{project_id}` — for links. */
  readonly baseUrl: string;
  readonly bookmarkUrl: string;
}

function links(ctx: ViewContext, collection: string, id: string) {
  return [
    { href: `${ctx.baseUrl}/${collection}/${id}`, rel: 'self' },
    { href: `${ctx.bookmarkUrl}/${collection}/${id}`, rel: 'bookmark' },
  ];
}

function attachmentsOfVolume(v: VolumeRow, atts: readonly AttachmentRow[], ctx: ViewContext) {
  return atts
    .filter((a) => a.attach_status === 'attached')
    .map((a) => ({
      id: v.id,
      attachment_id: a.id,
      volume_id: v.id,
      server_id: a.instance_uuid,
      host_name: ctx.isAdmin ? a.attached_host : null,
      device: a.mountpoint,
      attached_at: a.attach_time,
    }));
}

export type VolumeViewKind = 'detail' | 'create';

/**
 * A volume's metadata as Cinder shows it: the user's, with the admin metadata users may see
 * laid over it — `readonly`, and `attached_mode` while an attachment is attached.
 */
export function visibleMetadata(v: VolumeRow, atts: readonly AttachmentRow[]): Record<string, string> {
  const out = JSON.parse(v.metadata) as Record<string, string>;
  const admin = JSON.parse(v.admin_metadata) as Record<string, string>;
  if (admin['readonly'] !== undefined) out['readonly'] = admin['readonly'];
  const attached = atts.find((a) => a.attach_status === 'attached');
  if (attached) out['attached_mode'] = attached.attach_mode;
  return out;
}

/** One volume as Cinder shows it (`show`, `detail` list items, `create`, `update`). */
export function volumeView(v: VolumeRow, type: VolumeTypeRow | undefined, atts: readonly AttachmentRow[], ctx: ViewContext, kind: VolumeViewKind = 'detail'): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: v.id,
    status: v.status,
    size: v.size,
    availability_zone: v.availability_zone,
    created_at: v.created_at,
    updated_at: v.updated_at,
    attachments: attachmentsOfVolume(v, atts, ctx),
    name: v.name,
    description: v.description,
    volume_type: type?.name ?? null,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    metadata: visibleMetadata(v, atts),
    links: links(ctx, 'volumes', v.id),
    user_id: v.user_id,
    bootable: v.bootable ? 'true' : 'false',
    encrypted: false,
    replication_status: null,
    consistencygroup_id: null,
    multiattach: v.multiattach === 1,
  };
  if (ctx.isAdmin) out.migration_status = v.migration_status;
  // API extensions (volume_host_attribute, volume_tenant_attribute, volume_mig_status_attribute)
  // extend show and detail only, for admins only.
  if (kind === 'detail' && ctx.isAdmin) {
    out['os-vol-host-attr:host'] = v.host;
    out['os-vol-tenant-attr:tenant_id'] = v.project_id;
    out['os-vol-mig-status-attr:migstat'] = v.migration_status;
    out['os-vol-mig-status-attr:name_id'] = null;
  }
  const mv = ctx.version;
  if (mv.atLeast('3.13')) out.group_id = null;
  if (mv.atLeast('3.21') && ctx.isAdmin) out.provider_id = null;
  if (mv.atLeast('3.48')) {
    out.shared_targets = false;
    out.service_uuid = null;
  }
  if (mv.atLeast('3.61') && ctx.isAdmin) out.cluster_name = null;
  if (mv.atLeast('3.63')) out.volume_type_id = v.volume_type_id;
  // 3.64 encryption_key_id: shown only for encrypted volumes; Hitch has none.
  if (mv.atLeast('3.65')) out.consumes_quota = true;
  return out;
}

/** The summary list item: `GET /volumes`. */
export function volumeSummaryView(v: VolumeRow, ctx: ViewContext): Record<string, unknown> {
  return { id: v.id, name: v.name, links: links(ctx, 'volumes', v.id) };
}

/** A stored JSON column, as it goes into a response body (not read here, so not typed). */
function storedJson(s: string | null): unknown {
  return s === null ? null : JSON.parse(s);
}

/** Cinder's attachments view builder: `summary` and `detail`. */
export function attachmentSummaryView(a: AttachmentRow): Record<string, unknown> {
  return { id: a.id, status: a.attach_status, instance: a.instance_uuid, volume_id: a.volume_id };
}

/** `caller` decides whether the CHAP secrets in connection_info are shown (connection-secrets.ts). */
export function attachmentDetailView(a: AttachmentRow, caller: { readonly isAdmin: boolean }): Record<string, unknown> {
  return {
    ...attachmentSummaryView(a),
    attached_at: a.attach_time,
    detached_at: a.detach_time,
    attach_mode: a.attach_mode,
    connection_info: connectionInfoFor(storedJson(a.connection_info) ?? {}, caller),
  };
}
