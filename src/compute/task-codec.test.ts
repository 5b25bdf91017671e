import { describe, expect, it } from 'vitest';
import { isHitchError } from '../errors.ts';
import type { BdmRow } from './repository.ts';
import { readTaskPayload, readTaskResult } from './task-codec.ts';

const bdm: BdmRow = {
  id: 'b1',
  server_id: 's1',
  volume_id: 'v1',
  device_name: '/dev/vdb',
  attachment_id: 'a1',
  status: 'attached',
  connection_info: JSON.stringify({ driver_volume_type: 'iscsi', data: { target_iqn: 'iqn.2010-10.org.openstack:volume-v1', target_portal: '192.168.1.59:3260', target_lun: 1 } }),
  device_info: null,
  cinder_flow: 'attachments',
  created_at: '2026-12-05T19:00:00Z',
  updated_at: null,
  boot_index: null,
  delete_on_termination: 0,
  source_type: null,
  image_id: null,
  volume_size: 1,
  volume_type: null,
  tag: null,
};

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return isHitchError(e) ? `${e.code}: ${e.message}` : `not a HitchError: ${String(e)}`;
  }
  return 'no error';
};

describe('the scale-out queue task codec', () => {
  it('reads back what the API and agent processes write, field for field', () => {
    const attach = { serverId: 's1', volumeId: 'v1', device: null, meta: { requestId: 'req-1', projectId: 'p1', userId: 'u1' } };
    expect(readTaskPayload('t1', JSON.stringify(attach))).toEqual(attach);
    const spawn = {
      serverId: 's1',
      spec: { name: 'instance-00000001', uuid: 's1', memoryMiB: 128, vcpus: 1, virtType: 'qemu', boot: { kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' }, bootsFromVolume: false, console: { kind: 'file', path: '/tmp/c.log' } },
      meta: { requestId: 'req-2', projectId: 'p1' },
    };
    expect(readTaskPayload('t2', JSON.stringify(spawn))).toEqual(spawn);
    expect(readTaskResult('t3', JSON.stringify({ operationId: 'op-1', bdm }))).toEqual({ operationId: 'op-1', bdm });
  });

  it('refuses a row of another shape by the task and the field, never passing half of it on', () => {
    expect(code(() => readTaskPayload('t1', 'not json'))).toMatch(/^HITCH_QUEUE_TASK_MALFORMED: Compute task t1 .*payload is not JSON/);
    expect(code(() => readTaskPayload('t1', '[]'))).toMatch(/payload is not an object/);
    expect(code(() => readTaskPayload('t1', '{"volumeId":"v1"}'))).toMatch(/payload\.serverId is not a string/);
    expect(code(() => readTaskPayload('t1', '{"serverId":"s1","volumeId":7}'))).toMatch(/payload\.volumeId is not a string/);
    expect(code(() => readTaskPayload('t1', '{"serverId":"s1","meta":{"requestId":"r"}}'))).toMatch(/payload\.meta\.projectId/);
    expect(code(() => readTaskPayload('t1', '{"serverId":"s1","spec":{"name":"n","uuid":"u","memoryMiB":0,"vcpus":1,"virtType":"qemu"}}'))).toMatch(/payload\.spec\.memoryMiB is not a positive integer/);
    expect(code(() => readTaskPayload('t1', '{"serverId":"s1","spec":{"name":"n","uuid":"u","memoryMiB":1,"vcpus":1,"virtType":"xen"}}'))).toMatch(/payload\.spec\.virtType/);
    expect(code(() => readTaskResult('t2', null))).toMatch(/t2 .*has no result/);
    expect(code(() => readTaskResult('t2', JSON.stringify({ operationId: 'op', bdm: { ...bdm, connection_info: 5 } })))).toMatch(/result\.bdm\.connection_info is not a string or null/);
    expect(code(() => readTaskResult('t2', JSON.stringify({ operationId: 'op', bdm: { ...bdm, boot_index: 'zero' } })))).toMatch(/result\.bdm\.boot_index is not a number/);
    expect(code(() => readTaskResult('t2', JSON.stringify({ bdm })))).toMatch(/result\.operationId is not a string/);
  });
});
