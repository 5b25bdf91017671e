/**
 * What tools ask a block storage service about itself: `os-availability-zone`, `os-services`
 * (list; enable, disable, disable with a reason), `scheduler-stats/get_pools` (the backend's
 * pool and capacity), `os-hosts` (list; per-host usage by project) and `extensions`.
 */
import { HitchError } from '../../errors.ts';
import { validate } from '../../http/validate.ts';
import { requireAdmin } from '../api-context.ts';
import { updateServiceSchema } from '../request-schemas.ts';
import { AVAILABILITY_ZONE } from '../zone.ts';
import type { VolumeService } from '../volume-service.ts';
import { parseBool, q1, type Query, type RouteFn } from './common.ts';

/** Cinder's API extensions that Hitch serves, as `GET /extensions` lists them. */
const EXTENSIONS: ReadonlyArray<{ alias: string; name: string; description: string; updated: string }> = [
  { alias: 'os-admin-actions', name: 'AdminActions', description: 'Enable admin actions.', updated: '2012-08-25T00:00:00+00:00' },
  { alias: 'os-availability-zone', name: 'AvailabilityZones', description: 'Describe Availability Zones.', updated: '2013-06-27T00:00:00+00:00' },
  { alias: 'os-extended-snapshot-attributes', name: 'ExtendedSnapshotAttributes', description: 'Extended SnapshotAttributes support.', updated: '2012-06-19T00:00:00+00:00' },
  { alias: 'os-extended-services', name: 'ExtendedServices', description: 'Extended services support.', updated: '2014-01-10T00:00:00-00:00' },
  { alias: 'os-hosts', name: 'Hosts', description: 'Admin-only host administration.', updated: '2011-06-29T00:00:00+00:00' },
  { alias: 'qos-specs', name: 'Qos_specs_manage', description: 'QoS specs support.', updated: '2013-08-02T00:00:00+00:00' },
  { alias: 'os-quota-class-sets', name: 'Quota_classes', description: 'Quota classes management support.', updated: '2012-03-12T00:00:00+00:00' },
  { alias: 'os-quota-sets', name: 'Quotas', description: 'Quota management support.', updated: '2011-08-08T00:00:00+00:00' },
  { alias: 'scheduler-stats', name: 'Scheduler_stats', description: 'Scheduler stats support.', updated: '2014-09-07T00:00:00+00:00' },
  { alias: 'os-services', name: 'Services', description: 'Services support.', updated: '2012-10-28T00:00:00-00:00' },
  { alias: 'os-snapshot-actions', name: 'SnapshotActions', description: 'Enable snapshot manager actions.', updated: '2013-07-16T00:00:00+00:00' },
  { alias: 'os-types-extra-specs', name: 'TypesExtraSpecs', description: 'Type extra specs support.', updated: '2011-08-24T00:00:00+00:00' },
  { alias: 'os-types-manage', name: 'TypesManage', description: 'Types manage support.', updated: '2011-08-24T00:00:00+00:00' },
  { alias: 'os-used-limits', name: 'UsedLimits', description: 'Provide data on limited resources that are being used.', updated: '2013-10-03T00:00:00+00:00' },
  { alias: 'os-volume-actions', name: 'VolumeActions', description: 'Enable volume actions.', updated: '2012-05-31T00:00:00+00:00' },
  { alias: 'os-vol-host-attr', name: 'VolumeHostAttribute', description: 'Expose host as an attribute of a volume.', updated: '2011-11-03T00:00:00+00:00' },
  { alias: 'os-vol-mig-status-attr', name: 'VolumeMigStatusAttribute', description: 'Expose migration_status as an attribute of a volume.', updated: '2013-08-08T00:00:00+00:00' },
  { alias: 'os-vol-tenant-attr', name: 'VolumeTenantAttribute', description: 'Expose the internal project_id as an attribute of a volume.', updated: '2011-11-03T00:00:00+00:00' },
  { alias: 'os-volume-transfer', name: 'VolumeTransfer', description: 'Volume transfer management support.', updated: '2013-05-29T00:00:00+00:00' },
  { alias: 'os-volume-type-access', name: 'VolumeTypeAccess', description: 'Volume type access support.', updated: '2014-06-26T00:00:00Z' },
];

/** `2026-12-01T10:00:00.123000` → `2026-12-01T10:00:00.000000` (Cinder's normalized times have no fraction). */
function normalized(t: string): string {
  return t.replace(/\.\d+$/, '.000000');
}

export function registerDiscoveryRoutes(route: RouteFn, svc: VolumeService): void {
  route('GET', '/os-availability-zone', async () => ({ availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true } }] }));

  route('GET', '/os-services', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:services:index');
    const q = req.query as Query;
    const rows = await svc.services.list({ binary: q1(q, 'binary'), host: q1(q, 'host') });
    const pools = state.version.atLeast('3.49') ? await svc.backend.capacity(0) : null;
    return {
      services: rows.map((s) => ({
        binary: s.binary,
        host: s.host,
        zone: s.zone,
        status: s.disabled ? 'disabled' : 'enabled',
        state: s.up ? 'up' : 'down',
        updated_at: normalized(s.updated_at),
        ...(pools && s.binary === 'cinder-volume' ? { backend_state: 'up' } : {}),
        ...(state.version.atLeast('3.7') ? { cluster: null } : {}),
        disabled_reason: s.disabled_reason,
        ...(s.binary === 'cinder-volume' ? { replication_status: 'not-capable', active_backend_id: null, frozen: false } : {}),
      })),
    };
  });

  for (const action of ['enable', 'disable', 'disable-log-reason'] as const) {
    route('PUT', `/os-services/${action}`, async (req, _reply, state) => {
      requireAdmin(state, 'volume_extension:services:update');
      validate(updateServiceSchema, req.body);
      const b = req.body as { host: string; binary?: string; service?: string; disabled_reason?: string | null };
      const binary = b.binary || b.service || '';
      const reason = action === 'disable-log-reason' ? (b.disabled_reason ?? null) : null;
      const s = await svc.services.setDisabled(binary, b.host, action !== 'enable', reason);
      return {
        host: s.host,
        service: b.service ?? '',
        binary: b.binary ?? '',
        status: s.disabled ? 'disabled' : 'enabled',
        disabled: s.disabled === 1,
        ...(action === 'disable-log-reason' ? { disabled_reason: s.disabled_reason } : {}),
      };
    });
  }

  route('GET', '/scheduler-stats/get_pools', async (req, _reply, state) => {
    requireAdmin(state, 'scheduler_extension:scheduler_stats:get_pools');
    const q = req.query as Query;
    const detail = q1(q, 'detail');
    const b = svc.backend;
    const allocated = (await svc.list({ projectId: null }, [], undefined, undefined)).reduce((n, v) => n + v.size, 0);
    const name = b.host;
    const backendFilter = q1(q, 'name');
    if (backendFilter !== undefined && backendFilter !== name) return { pools: [] };
    if (detail === undefined || !parseBool(detail, 'detail')) return { pools: [{ name }] };
    const cap = await b.capacity(allocated);
    return {
      pools: [
        {
          name,
          capabilities: {
            pool_name: name.replace(/^.*#/, ''),
            volume_backend_name: b.backendName,
            vendor_name: b.vendorName,
            driver_version: '1.0.0',
            storage_protocol: 'iSCSI',
            total_capacity_gb: cap.totalGiB ?? 'unknown',
            free_capacity_gb: cap.freeGiB ?? 'unknown',
            allocated_capacity_gb: allocated,
            provisioned_capacity_gb: allocated,
            reserved_percentage: 0,
            thin_provisioning_support: true,
            thick_provisioning_support: false,
            multiattach: true,
            QoS_support: false,
            timestamp: null,
          },
        },
      ],
    };
  });

  route('GET', '/os-hosts', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:hosts');
    const zone = q1(req.query as Query, 'zone');
    const rows = (await svc.services.list()).filter((s) => s.binary !== 'cinder-api' && (zone === undefined || zone === '' || s.zone === zone));
    return {
      hosts: rows.map((s) => ({
        host_name: s.host,
        service: s.binary,
        zone: s.zone,
        'service-status': s.up ? 'available' : 'unavailable',
        'service-state': s.disabled ? 'disabled' : 'enabled',
        'last-update': normalized(s.updated_at),
      })),
    };
  });

  route('GET', '/os-hosts/:host', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:hosts');
    const { host } = req.params as { host: string };
    const known = (await svc.services.list({ binary: 'cinder-volume', host }))[0];
    if (!known) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Host', id: host }, { message: `Host ${host} could not be found.` });
    const volumes = (await svc.list({ projectId: null }, [], undefined, undefined)).filter((v) => v.host.replace(/#.*$/, '') === host);
    const snapshots = await svc.snapshots.list({ projectId: null }, [], undefined, undefined);
    const onHost = new Set(volumes.map((v) => v.id));
    const row = (project: string, vols: typeof volumes, snaps: typeof snapshots) => ({
      resource: {
        host,
        project,
        volume_count: String(vols.length),
        total_volume_gb: String(vols.reduce((n, v) => n + v.size, 0)),
        snapshot_count: String(snaps.length),
        total_snapshot_gb: String(snaps.reduce((n, s) => n + s.size, 0)),
      },
    });
    const mine = snapshots.filter((s) => onHost.has(s.volume_id));
    const projects = [...new Set(volumes.map((v) => v.project_id))].sort();
    return {
      host: [row('(total)', volumes, mine), ...projects.map((p) => row(p, volumes.filter((v) => v.project_id === p), mine.filter((s) => s.project_id === p)))],
    };
  });

  route('GET', '/extensions', async (_req, _reply, state) => ({
    extensions: EXTENSIONS.map((e) => ({ ...e, links: [], namespace: `${state.baseUrl.replace(/\/v3\/.*$/, '')}/ext/${e.alias}/api/v1.1` })),
  }));
}
