/**
 * The storage side, when cinder-api's and cinder-volume's logs are given too: the API request
 * (its time as the WSGI server measured it) and the volume manager's steps, tied to Nova's
 * call by the request id keystoneauth reported (`… used request id req-…`).
 *
 *   http://10.0.0.5:8776/v3/5b4c1d21…/volumes/7b8068fd-01dc-44c6-a393-a11c483b99ad/action returned with HTTP 200     (cinder.api.openstack.wsgi)
 *   10.0.0.7 "POST /v3/5b4c1d21…/volumes/7b8068fd-…/action HTTP/1.1" status: 200  len: 1183 time: 7.0123456          (eventlet.wsgi.server)
 *   Initialize volume connection completed successfully.                                                              (cinder.volume.manager)
 *   attachment_update completed successfully.
 *   Creating iscsi_target for volume: volume-7b8068fd-01dc-44c6-a393-a11c483b99ad                                    (cinder.volume.targets.lio)
 *   Driver initialize connection failed (error: Bad or unexpected response from the storage volume backend API: Failed to find available iSCSI targets for overcloud-triplenicovscompute-2.localdomain.).
 */
import type { LogEvent } from '../events.ts';

const WSGI = /"(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP\/1\.[01]" status: (\d{3})\s+len: \d+\s+time: ([\d.]+)/;
const DONE = /^(Initialize volume connection|attachment_update|Terminate volume connection|Attach volume|Detach volume|Remove volume export|Create attachment|Delete attachment|attachment_complete|Unreserve volume|Reserve volume) completed successfully\.$/;
const FAILED = /^(Driver initialize connection failed|Unable to update attachment|Unable to create attachment|Unable to terminate volume connection|Failed to attach volume|Failed to detach volume)[ .:(](.*)$/s;
const TARGET = /^(Creating iscsi_target for volume|Removing iscsi_target): (\S+)$/;

export function parseCinder(message: string): LogEvent[] {
  let m: RegExpExecArray | null;
  if (message.includes('" status: ') && (m = WSGI.exec(message))) {
    return [{ kind: 'api.request', method: m[1] ?? '', path: m[2] ?? '', status: Number(m[3]), seconds: Number(m[4]) }];
  }
  if ((m = DONE.exec(message))) return [{ kind: 'cinder.step', what: m[1] ?? '', ok: true, detail: null }];
  if ((m = FAILED.exec(message))) return [{ kind: 'cinder.step', what: m[1] ?? '', ok: false, detail: (m[2] ?? '').trim() }];
  if ((m = TARGET.exec(message))) return [{ kind: 'cinder.step', what: m[1] ?? '', ok: true, detail: m[2] ?? null }];
  return [];
}
