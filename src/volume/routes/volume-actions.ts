/**
 * `POST /volumes/{id}/action`: the legacy attach flow (`os-reserve` … `os-detach`), the admin
 * actions (`os-reset_status`, `os-force_detach`, `os-force_delete`), and `os-extend`,
 * `os-set_bootable`, `os-update_readonly_flag`, `os-retype`. Statuses as Cinder answers them:
 * 202 for each, but 200 for `os-set_bootable` and `os-initialize_connection`.
 */
import { HitchError } from '../../errors.ts';
import { validate } from '../../http/validate.ts';
import { requireAdmin } from '../api-context.ts';
import { connectionInfoFor } from '../connection-secrets.ts';
import { connectorOrNull, parseConnector } from '../connector.ts';
import { actionSchemas } from '../request-schemas.ts';
import { RESETTABLE_STATUSES, type VolumeService } from '../volume-service.ts';
import { actionOf, boolOf, checkUuid, invalidInput, type RouteFn } from './common.ts';

export function registerVolumeActionRoutes(route: RouteFn, svc: VolumeService): void {
  route('POST', '/volumes/:id/action', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Volume');
    const [action, arg] = actionOf(req.body);
    const schema = actionSchemas[action];
    if (!schema) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: action }, { message: `There is no such action: ${action}` });
    validate(schema, arg, [action]);
    const c = state.caller;
    const a = (arg ?? {}) as Record<string, unknown>;
    switch (action) {
      case 'os-reserve':
        await svc.reserve(c, id);
        break;
      case 'os-unreserve':
        await svc.unreserve(c, id);
        break;
      case 'os-begin_detaching':
        await svc.beginDetaching(c, id);
        break;
      case 'os-roll_detaching':
        await svc.rollDetaching(c, id);
        break;
      case 'os-initialize_connection': {
        const info = await svc.initializeConnection(c, id, parseConnector(a.connector));
        return reply.code(200).send({ connection_info: connectionInfoFor(info, c) });
      }
      case 'os-terminate_connection':
        await svc.terminateConnection(c, id, connectorOrNull(a.connector));
        break;
      case 'os-attach': {
        const instanceUuid = typeof a.instance_uuid === 'string' ? a.instance_uuid : null;
        const hostName = typeof a.host_name === 'string' ? a.host_name : null;
        if (!instanceUuid && !hostName) throw invalidInput('Invalid request to attach volume to an invalid target');
        await svc.attach(c, id, { instanceUuid, hostName, mountpoint: String(a.mountpoint), mode: typeof a.mode === 'string' ? a.mode : 'rw' });
        break;
      }
      case 'os-detach':
        await svc.detach(c, id, typeof a.attachment_id === 'string' ? a.attachment_id : null);
        break;
      case 'os-force_detach':
        requireAdmin(state, 'volume_extension:volume_admin_actions:force_detach');
        await svc.forceDetach(c, id, typeof a.attachment_id === 'string' ? a.attachment_id : null, connectorOrNull(a.connector));
        break;
      case 'os-reset_status': {
        requireAdmin(state, 'volume_extension:volume_admin_actions:reset_status');
        const status = typeof a.status === 'string' ? a.status.toLowerCase() : undefined;
        if (status === undefined && a.attach_status === undefined && a.migration_status === undefined) {
          throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'reset' }, { message: 'Must specify status, attach_status or migration_status for update.' });
        }
        if (status !== undefined && !RESETTABLE_STATUSES.includes(status)) throw invalidInput(`Must specify a valid status`);
        await svc.resetStatus(c, id, { status, attachStatus: a.attach_status as string | undefined, migrationStatus: a.migration_status as string | undefined });
        break;
      }
      case 'os-force_delete':
        requireAdmin(state, 'volume_extension:volume_admin_actions:force_delete');
        await svc.delete(c, id, { force: true });
        break;
      case 'os-extend': {
        // In use from 3.42 (Cinder's VOLUME_EXTEND_INUSE); before it, only available volumes grow.
        const v = await svc.get(c, id);
        const attached = state.version.atLeast('3.42') && v.status === 'in-use';
        await svc.actions.extend(c, id, Number(a.new_size), attached);
        break;
      }
      case 'os-set_bootable':
        await svc.actions.setBootable(c, id, boolOf(a.bootable, 'bootable'));
        return reply.code(200).send();
      case 'os-update_readonly_flag':
        await svc.actions.setReadonly(c, id, boolOf(a.readonly, 'readonly'));
        break;
      case 'os-retype':
        await svc.actions.retype(c, id, String(a.new_type), typeof a.migration_policy === 'string' ? a.migration_policy : undefined);
        break;
    }
    return reply.code(202).send();
  });
}
