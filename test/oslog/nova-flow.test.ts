/**
 * A whole Newton attach as nova-compute logged it, and cinder-api's side of it in a second file:
 * the seed's story (192.168.1.59 dead behind iscsid's 2-minute login timeout, tried twice by
 * Newton's serial connector; no multipath map; 7 s in initialize_connection). No public report
 * pasted all of such a log, so these lines are built here — in the exact formats of the releases
 * that wrote them (oslo.log, oslo.concurrency 3.x lockutils, processutils through nova-rootwrap,
 * os-brick 1.6, keystoneauth as cinderclient's logger, Nova 14's manager and libvirt guest,
 * cinder-api's WSGI line), at the seed's own timings — to hold the assembly of a full Nova
 * attach: the nine steps, the storage side's share, the two timeouts, the single-path fallback
 * and the floor, and the request id that ties cinder-api's line to Nova's call. They are test
 * input, not a sample: test/oslog/samples/ holds only real logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogs, selectOperations, type LogOperation } from '../../src/trace/oslog/index.ts';

const SERVER = '62b302e5-6d95-4e61-8dd4-6aa8b1049545';
const VOLUME = '5ed0cc5c-158c-4857-9bd5-3556884a23f0';
const REQ = 'req-6d3c4a8e-0b43-4f1e-9c55-0e2b7a1f6d10';
const CINDER_REQ = 'req-2f0e3c1b-5d7a-4a8c-b1e2-9f3d4c5b6a70';
const CTX = `[${REQ} 0512742ccde048e0b56a754bf76fc8b2 ca2fbd57936b45bf9abdb536dc152a6d - - -]`;
const INST = `[instance: ${SERVER}]`;
const PROJECT = 'ca2fbd57936b45bf9abdb536dc152a6d';
const URL = `http://172.16.1.11:8776/v2/${PROJECT}/volumes/${VOLUME}`;
const IQN_A = 'iqn.1992-04.com.emc:cx.apm00150602415.a0';
const IQN_B = 'iqn.1992-04.com.emc:cx.apm00150602415.b0';
const WWN = '36006016074e03a008d3cf25b04e2daae';
const BY_PATH_A = `/dev/disk/by-path/ip-192.168.1.59:3260-iscsi-${IQN_A}-lun-192`;
const BY_PATH_B = `/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-${IQN_B}-lun-192`;
const ROOTWRAP = 'sudo nova-rootwrap /etc/nova/rootwrap.conf';
const PU = 'execute /usr/local/lib/python2.7/dist-packages/oslo_concurrency/processutils.py';
const LU = 'inner /usr/local/lib/python2.7/dist-packages/oslo_concurrency/lockutils.py';

const line = (t: string, level: string, logger: string, rest: string): string => `2017-03-14 ${t} 4242 ${level} ${logger} ${rest}`;
const cmd = (t0: string, t1: string, args: string, rc: number, secs: string, failed = false): string[] => [
  line(t0, 'DEBUG', 'oslo_concurrency.processutils', `${CTX} Running cmd (subprocess): ${ROOTWRAP} ${args} ${PU}:344`),
  line(t1, 'DEBUG', 'oslo_concurrency.processutils', `${CTX} CMD "${ROOTWRAP} ${args}" returned: ${rc} in ${secs}s ${PU}:374`),
  ...(failed ? [line(t1, 'DEBUG', 'oslo_concurrency.processutils', `${CTX} u'${ROOTWRAP} ${args}' failed. Not Retrying. ${PU}:422`)] : []),
];
const brick = (t: string, msg: string, level = 'INFO'): string => line(t, level, 'os_brick.initiator.connectors.iscsi', `${CTX} ${msg}`);

/** One login round of Newton's connector: the dead portal's 2 minutes, then the healthy one. */
function round(t: { a: string; a1: string; a2: string; b: string; b1: string; b2: string }): string[] {
  return [
    brick(t.a, 'Trying to connect to iSCSI portal 192.168.1.59:3260'),
    ...cmd(t.a, t.a1, `iscsiadm -m node -T ${IQN_A} -p 192.168.1.59:3260 --login`, 8, '120.032', true),
    brick(t.a2, `Failed to login iSCSI target ${IQN_A} on portal 192.168.1.59:3260 (exit code 8).`, 'WARNING'),
    brick(t.b, 'Trying to connect to iSCSI portal 192.168.1.60:3260'),
    ...cmd(t.b, t.b1, `iscsiadm -m node -T ${IQN_B} -p 192.168.1.60:3260 --login`, 0, '0.452'),
    ...cmd(t.b1, t.b2, 'iscsiadm -m node --rescan', 0, '0.231'),
  ];
}

const NOVA = [
  line('10:00:00.000', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "${SERVER}" acquired by "nova.compute.manager.do_reserve" :: waited 0.000s ${LU}:270`),
  line('10:00:00.112', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "${SERVER}" released by "nova.compute.manager.do_reserve" :: held 0.112s ${LU}:282`),
  line('10:00:00.500', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "${SERVER}" acquired by "nova.compute.manager.do_attach_volume" :: waited 0.000s ${LU}:270`),
  line('10:00:00.510', 'INFO', 'nova.compute.manager', `${CTX} ${INST} Attaching volume ${VOLUME} to /dev/vdb`),
  line('10:00:00.520', 'DEBUG', 'cinderclient.v2.client', `${CTX} REQ: curl -g -i -X GET ${URL} -H "User-Agent: python-cinderclient" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8" _http_log_request /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:337`),
  line('10:00:00.640', 'DEBUG', 'cinderclient.v2.client', `${CTX} RESP: [200] X-Compute-Request-Id: req-7b1d9e20-4c3f-4d5a-8e6b-1a2c3d4e5f60 Content-Type: application/json Content-Length: 1008 X-Openstack-Request-Id: req-7b1d9e20-4c3f-4d5a-8e6b-1a2c3d4e5f60 Date: Tue, 14 Mar 2017 10:00:00 GMT _http_log_response /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:366`),
  line('10:00:00.650', 'DEBUG', 'os_brick.initiator.connector', `${CTX} ==> get_connector_properties: call {'execute': None, 'my_ip': '172.16.1.11', 'enforce_multipath': True, 'host': 'newton', 'root_helper': '${ROOTWRAP}', 'multipath': True} trace_logging_wrapper /usr/local/lib/python2.7/dist-packages/os_brick/utils.py:146`),
  line('10:00:00.714', 'DEBUG', 'os_brick.initiator.connector', `${CTX} <== get_connector_properties: return (64ms) {'platform': 'x86_64', 'host': 'newton', 'ip': '172.16.1.11', 'os_type': 'linux2', 'multipath': True, 'initiator': u'iqn.1993-08.org.debian:01:7cc8838d1c0'} trace_logging_wrapper /usr/local/lib/python2.7/dist-packages/os_brick/utils.py:170`),
  line('10:00:00.720', 'DEBUG', 'cinderclient.v2.client', `${CTX} REQ: curl -g -i -X POST ${URL}/action -H "User-Agent: python-cinderclient" -H "Content-Type: application/json" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8" -d '{"os-initialize_connection": {"connector": {"platform": "x86_64", "host": "newton", "do_local_attach": false, "ip": "172.16.1.11", "os_type": "linux2", "multipath": true, "initiator": "iqn.1993-08.org.debian:01:7cc8838d1c0"}}}' _http_log_request /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:337`),
  line('10:00:07.720', 'DEBUG', 'cinderclient.v2.client', `${CTX} RESP: [200] X-Compute-Request-Id: ${CINDER_REQ} Content-Type: application/json Content-Length: 650 X-Openstack-Request-Id: ${CINDER_REQ} Date: Tue, 14 Mar 2017 10:00:07 GMT _http_log_response /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:366`),
  line('10:00:07.721', 'DEBUG', 'cinderclient.v2.client', `${CTX} RESP BODY: {"connection_info": {"driver_volume_type": "iscsi", "data": {"auth_password": "Zq9ChapSecret12", "target_portals": ["192.168.1.59:3260", "192.168.1.60:3260"], "volume_id": "${VOLUME}"}}} _http_log_response /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:374`),
  line('10:00:07.730', 'DEBUG', 'os_brick.initiator.connectors.iscsi', `${CTX} ==> connect_volume: call {'self': <os_brick.initiator.connectors.iscsi.ISCSIConnector object at 0x7f4f2c3e8d10>, 'connection_properties': {u'target_portals': [u'192.168.1.59:3260', u'192.168.1.60:3260'], u'volume_id': u'${VOLUME}', u'auth_password': u'***'}} trace_logging_wrapper /usr/local/lib/python2.7/dist-packages/os_brick/utils.py:146`),
  line('10:00:07.731', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "connect_volume" acquired by "os_brick.initiator.connectors.iscsi.connect_volume" :: waited 0.000s ${LU}:270`),
  brick('10:00:07.732', 'Multipath discovery for iSCSI enabled'),
  ...round({ a: '10:00:07.740', a1: '10:02:07.772', a2: '10:02:07.780', b: '10:02:07.790', b1: '10:02:08.242', b2: '10:02:08.473' }),
  brick('10:02:08.480', `ISCSI volume not yet found at: [u'${BY_PATH_A}', u'${BY_PATH_B}']. Will rescan & retry.  Try number: 0.`, 'WARNING'),
  brick('10:02:09.490', 'Multipath discovery for iSCSI enabled'),
  ...round({ a: '10:02:09.500', a1: '10:04:09.532', a2: '10:04:09.540', b: '10:04:09.550', b1: '10:04:10.002', b2: '10:04:10.233' }),
  line('10:04:10.240', 'DEBUG', 'os_brick.initiator.connectors.iscsi', `${CTX} Found iSCSI node [u'${BY_PATH_A}', u'${BY_PATH_B}'] (after 1 rescans) connect_volume /usr/local/lib/python2.7/dist-packages/os_brick/initiator/connectors/iscsi.py:431`),
  line('10:04:10.300', 'DEBUG', 'os_brick.initiator.connectors.iscsi', `${CTX} Device WWN = '${WWN}' connect_volume /usr/local/lib/python2.7/dist-packages/os_brick/initiator/connectors/iscsi.py:438`),
  line('10:04:10.301', 'INFO', 'os_brick.initiator.linuxscsi', `${CTX} Find Multipath device file for volume WWN ${WWN}`),
  line('10:04:10.302', 'DEBUG', 'os_brick.initiator.linuxscsi', `${CTX} Checking to see if /dev/disk/by-id/dm-uuid-mpath-${WWN} exists yet. wait_for_path /usr/local/lib/python2.7/dist-packages/os_brick/initiator/linuxscsi.py:175`),
  line('10:04:22.100', 'WARNING', 'os_brick.initiator.linuxscsi', `${CTX} couldn't find a valid multipath device path for ${WWN}`),
  ...cmd('10:04:22.110', '10:04:22.150', 'multipath -l /dev/sdf', 0, '0.040'),
  line('10:04:22.160', 'DEBUG', 'os_brick.initiator.connectors.base', `${CTX} Unable to find multipath device name for volume. Using path ${BY_PATH_B} for volume. _discover_mpath_device /usr/local/lib/python2.7/dist-packages/os_brick/initiator/connectors/base.py:117`),
  line('10:04:22.254', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "connect_volume" released by "os_brick.initiator.connectors.iscsi.connect_volume" :: held 254.523s ${LU}:282`),
  line('10:04:22.255', 'DEBUG', 'os_brick.initiator.connectors.iscsi', `${CTX} <== connect_volume: return (254525ms) {'path': u'${BY_PATH_B}', 'scsi_wwn': u'${WWN}', 'type': u'block'} trace_logging_wrapper /usr/local/lib/python2.7/dist-packages/os_brick/utils.py:170`),
  line('10:04:22.300', 'DEBUG', 'nova.virt.libvirt.guest', `${CTX} attach device xml: <disk type="block" device="disk">`),
  '  <driver name="qemu" type="raw" cache="none" io="native"/>',
  `  <source dev="${BY_PATH_B}"/>`,
  '  <target bus="virtio" dev="vdb"/>',
  `  <serial>${VOLUME}</serial>`,
  '</disk>',
  ' attach_device /opt/stack/nova/nova/virt/libvirt/guest.py:304',
  line('10:04:22.420', 'DEBUG', 'cinderclient.v2.client', `${CTX} REQ: curl -g -i -X POST ${URL}/action -H "User-Agent: python-cinderclient" -H "Content-Type: application/json" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8" -d '{"os-attach": {"instance_uuid": "${SERVER}", "mountpoint": "/dev/vdb", "mode": "rw"}}' _http_log_request /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:337`),
  line('10:04:22.610', 'DEBUG', 'cinderclient.v2.client', `${CTX} RESP: [202] Content-Type: text/html; charset=UTF-8 Content-Length: 0 X-Openstack-Request-Id: req-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d Date: Tue, 14 Mar 2017 10:04:22 GMT _http_log_response /usr/local/lib/python2.7/dist-packages/keystoneauth1/session.py:366`),
  line('10:04:22.620', 'DEBUG', 'oslo_concurrency.lockutils', `${CTX} Lock "${SERVER}" released by "nova.compute.manager.do_attach_volume" :: held 262.120s ${LU}:282`),
];

const CINDER = [
  `2017-03-14 10:00:07.718 3120 INFO cinder.volume.manager [${CINDER_REQ} 0512742ccde048e0b56a754bf76fc8b2 ca2fbd57936b45bf9abdb536dc152a6d - default default] Initialize volume connection completed successfully.`,
  `2017-03-14 10:00:07.719 3055 INFO eventlet.wsgi.server [${CINDER_REQ} 0512742ccde048e0b56a754bf76fc8b2 ca2fbd57936b45bf9abdb536dc152a6d - default default] 172.16.1.11 "POST /v2/${PROJECT}/volumes/${VOLUME}/action HTTP/1.1" status: 200  len: 650 time: 6.9912341`,
];

// nova-api: the request that started it all (same request id: Nova's RPC carries the context).
const NOVA_API = [
  `2017-03-14 09:59:59.810 2001 INFO nova.api.openstack.compute.volumes ${CTX} Attach volume ${VOLUME} to instance ${SERVER} at /dev/vdb`,
  `2017-03-14 10:00:00.230 2001 INFO nova.osapi_compute.wsgi.server ${CTX} 172.16.1.5 "POST /v2.1/${PROJECT}/servers/${SERVER}/os-volume_attachments HTTP/1.1" status: 200 len: 388 time: 0.4500000`,
];

let dir: string;
let op: LogOperation;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hitch-oslog-nova-'));
  writeFileSync(join(dir, 'nova-compute.log'), `${NOVA.join('\n')}\n`);
  writeFileSync(join(dir, 'cinder.log'), `${CINDER.join('\n')}\n`);
  writeFileSync(join(dir, 'nova-api.log'), `${NOVA_API.join('\n')}\n`);
  const r = await readLogs([join(dir, 'nova-compute.log'), join(dir, 'cinder.log'), join(dir, 'nova-api.log')]);
  const all = NOVA.length + CINDER.length + NOVA_API.length;
  expect(r.lines).toEqual({ total: all, placed: all, unplaced: 0, other: 0 });
  op = selectOperations(r)[0] as LogOperation;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a Newton attach across nova-api’s, nova-compute’s and cinder’s logs', () => {
  it('is one attach: the volume, the server, ok, and the logs’ own duration, from nova-api’s request', () => {
    // nova-api's WSGI line ends at 10:00:00.230 after 0.45 s: the request came in at 09:59:59.780.
    expect(op.summary).toMatchObject({ kind: 'attach', via: 'nova', volume: VOLUME, server: SERVER, mountpoint: '/dev/vdb', outcome: 'ok', requestId: REQ, durationMs: 262_840, start: '2017-03-14 09:59:59.810' });
    expect(op.summary.sources).toHaveLength(3);
    expect(op.summary.requestIds).toEqual(expect.arrayContaining([REQ, CINDER_REQ]));
  });

  it('has the seed’s nine steps in order, and cinder’s side under the call it served', () => {
    const steps = op.report.rows.filter((r) => r.depth === 0).map((r) => r.name);
    expect(steps).toEqual(['compute-api POST /v2.1/{project_id}/servers/{id}/os-volume_attachments', 'reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance']);
    const init = op.report.rows.find((r) => r.name === 'initialize-connection');
    expect(init?.durationMs).toBe(7000);
    const call = op.report.rows.find((r) => r.parentId === init?.id);
    expect(call?.label).toBe('block-storage POST /v2/{project_id}/volumes/{id}/action os-initialize_connection');
    expect(op.report.rows.filter((r) => r.parentId === call?.id).map((r) => [r.name, r.durationMs])).toEqual([
      ['cinder-api POST /v2/{project_id}/volumes/{id}/action', 6991],
      ['cinder-volume Initialize volume connection', 0],
    ]);
  });

  it('says what the seed’s author found by hand', () => {
    const d = op.report.diagnosis;
    // Newton's connector logs a login, not the device it brings: usable is known only at its return.
    expect(d).toContain('login to 192.168.1.59:3260 timed out 2 times, after 120 s each (iscsiadm exit 8); the volume was usable at 262 s through 192.168.1.60:3260');
    expect(d).toContain('the attach waited for the dead portal 192.168.1.59:3260: 2 failed logins, 240 s of the 263 s (91%)');
    expect(d).toContain('attached on 1 of 2 paths; 192.168.1.59:3260 unreachable');
    expect(d).toContain(`multipathd did not create a map for WWN ${WWN} (waited 12 s); fell back to single path ${BY_PATH_B}`);
    expect(d).toContain('initialize_connection (the storage side) took 7.0 s of the 263 s (3%)');
    expect(d).toContain(
      'Hitch would have taken about 7.9 s for the same data plane: the floor from this log\'s own timings (get volume 120 ms + initialize_connection 7.0 s + login to 192.168.1.60:3260 452 ms + hot-plug 120 ms + attach 190 ms); this attach took 263 s, 33× the floor',
    );
  });

  it('masks the CHAP password Cinder returned in the response body', async () => {
    expect(JSON.stringify(op)).not.toContain('Zq9ChapSecret12');
  });
});
