/**
 * Each parser on the real lines it documents (public reports, Debian's os-brick 6.1 and
 * oslo.concurrency 5.0 as they print them), across the releases that changed the wording.
 */
import { describe, expect, it } from 'vitest';
import { maskLogText } from '../mask.ts';
import { parseContext, parseHeader, splitOrigin } from '../record.ts';
import { parseCinder } from './cinder.ts';
import { parseException } from './exception.ts';
import { parseLockutils } from './lockutils.ts';
import { parseNova } from './nova.ts';
import { parseOsBrick, reprList, reprValue } from './os-brick.ts';
import { parseProcessutils, programOf } from './processutils.ts';
import { parseRest, templatePath } from './rest.ts';

describe('oslo.log headers', () => {
  it('reads the context format of Pike and later (global request id first, None when unset)', () => {
    const h = parseHeader(
      '2023-08-18 14:54:40.796 3883246 INFO nova.compute.manager [None req-bd4be9d8-1259-45da-8cbc-8404ec3b0af9 cc03bca407c74da8a4be3d0ad3bbbc1f e6f5006edea941169a9771e748887742 - - faaa5f3a269a4adcbf05870ac1a66513 faaa5f3a269a4adcbf05870ac1a66513] [instance: b6d86451-8ad3-4224-ac3a-b23e146f3e64] Attaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5 to /dev/vdd',
    );
    expect(h).toMatchObject({ time: '2023-08-18 14:54:40.796', pid: 3883246, level: 'INFO', logger: 'nova.compute.manager' });
    expect(h?.ts).toBe(Date.UTC(2023, 7, 18, 14, 54, 40, 796));
    expect(parseContext(h?.rest ?? '')).toEqual({
      requestId: 'req-bd4be9d8-1259-45da-8cbc-8404ec3b0af9',
      globalRequestId: null,
      instance: 'b6d86451-8ad3-4224-ac3a-b23e146f3e64',
      message: 'Attaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5 to /dev/vdd',
    });
  });

  it('reads two request ids as global then local, and the exception prefix without a context', () => {
    expect(parseContext('[req-6f6a2905-7ee0-43dd-9102-f9f9a9049f40 req-54e14a81-475d-4f74-bdf4-bd3ec3210955 u p - - -] m')).toMatchObject({
      globalRequestId: 'req-6f6a2905-7ee0-43dd-9102-f9f9a9049f40',
      requestId: 'req-54e14a81-475d-4f74-bdf4-bd3ec3210955',
    });
    const h = parseHeader('2017-05-12 08:31:27.033 15969 ERROR nova.compute.manager [instance: 1a8a00fb-94b6-4109-ae58-f44291626a46] Traceback (most recent call last):');
    expect(parseContext(h?.rest ?? '')).toEqual({ requestId: null, globalRequestId: null, instance: '1a8a00fb-94b6-4109-ae58-f44291626a46', message: 'Traceback (most recent call last):' });
  });

  it('reads journald lines, with or without an inner oslo.log header, and takes the debug suffix off', () => {
    const j = parseHeader('Mar 05 12:00:00.123456 host nova-compute[1234]: DEBUG os_brick.initiator.connectors.iscsi [None req-1f65b818-108d-41cb-9ea1-ca18761a673f admin admin] <== connect_volume: return (3162ms) {} {{(pid=1234) trace_logging_wrapper /opt/stack/os-brick/os_brick/utils.py:201}}');
    expect(j).toMatchObject({ time: 'Mar 05 12:00:00.123', pid: 1234, level: 'DEBUG' });
    const c = parseContext(j?.rest ?? '');
    expect(splitOrigin(c.message)).toEqual({ message: '<== connect_volume: return (3162ms) {}', origin: 'trace_logging_wrapper /opt/stack/os-brick/os_brick/utils.py:201' });
    const inner = parseHeader('Oct 07 16:11:52 compute75 nova-compute[28347]: 2019-10-07 16:11:52.789 28347 ERROR os_brick.initiator.connectors.iscsi [req-1f65b818-108d-41cb-9ea1-ca18761a673f - - - - -] Could not login to any iSCSI portal.');
    expect(inner?.time).toBe('2019-10-07 16:11:52.789');
    expect(splitOrigin("iscsiadm (): stdout= stderr=iscsiadm: No records found\n _run_iscsiadm /usr/lib/python3/dist-packages/os_brick/initiator/connectors/iscsi.py:1026")).toEqual({
      message: 'iscsiadm (): stdout= stderr=iscsiadm: No records found',
      origin: '_run_iscsiadm /usr/lib/python3/dist-packages/os_brick/initiator/connectors/iscsi.py:1026',
    });
  });

  it('does not take a continuation line or a bare word for a header', () => {
    expect(parseHeader('  File "/usr/lib/python3/dist-packages/oslo_privsep/daemon.py", line 476, in _process_cmd')).toBeNull();
    expect(parseHeader('node.session.auth.authmethod = None')).toBeNull();
    expect(parseHeader('2017-05-12 garbage')).toBeNull();
  });
});

describe('lockutils', () => {
  it('reads Newton’s released-by and today’s quoted "released", with their waits and holds', () => {
    expect(parseLockutils('Lock "connect_volume" released by "connect_volume" :: held 122.041s')).toEqual([{ kind: 'lock.released', lock: 'connect_volume', by: 'connect_volume', heldMs: 122041 }]);
    expect(parseLockutils('Acquiring lock "connect_volume" by "os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume"')).toEqual([
      { kind: 'lock.acquiring', lock: 'connect_volume', by: 'os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume' },
    ]);
    expect(parseLockutils('Lock "connect_volume" acquired by "os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume" :: waited 0.012s')).toEqual([
      { kind: 'lock.acquired', lock: 'connect_volume', by: 'os_brick.initiator.connectors.iscsi.ISCSIConnector.connect_volume', waitedMs: 12 },
    ]);
    expect(parseLockutils('Lock "connect_to_iscsi_portal-127.0.0.1:3999-iqn.2010-10.org.openstack:volume-x" "released" by "os_brick.initiator.connectors.iscsi.ISCSIConnector._connect_to_iscsi_portal" :: held 4.905s')).toEqual([
      { kind: 'lock.released', lock: 'connect_to_iscsi_portal-127.0.0.1:3999-iqn.2010-10.org.openstack:volume-x', by: 'os_brick.initiator.connectors.iscsi.ISCSIConnector._connect_to_iscsi_portal', heldMs: 4905 },
    ]);
    expect(parseLockutils('Lock "x" "unacquired" by "f" :: held N/A')).toEqual([]);
  });
});

describe('processutils', () => {
  it('reads the start, the exit code and time, the failure, and a program run through rootwrap', () => {
    expect(parseProcessutils('Running cmd (subprocess): iscsiadm -m node -T iqn.2010-10.org.openstack:volume-x -p 127.0.0.1:3999 --login')).toEqual([{ kind: 'cmd.start', command: 'iscsiadm -m node -T iqn.2010-10.org.openstack:volume-x -p 127.0.0.1:3999 --login' }]);
    const end = 'CMD "sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.2015-01.acc1.cinder:acc13afa9c71f6d4498cbaae9ee8720c8418 -p 192.168.1.252:3260 --login" returned: 8 in 121.624s';
    expect(parseProcessutils(end)).toEqual([{ kind: 'cmd.end', command: 'sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.2015-01.acc1.cinder:acc13afa9c71f6d4498cbaae9ee8720c8418 -p 192.168.1.252:3260 --login', exitCode: 8, ms: 121624 }]);
    expect(programOf('sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node --rescan')).toBe('iscsiadm');
    expect(parseProcessutils("u'sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.x -p 192.168.1.252:3260 --rescan' failed. Not Retrying.")).toEqual([
      { kind: 'cmd.failed', command: 'sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.x -p 192.168.1.252:3260 --rescan', retrying: false },
    ]);
    expect(parseProcessutils("'multipathd show status' failed. Not Retrying.")).toEqual([{ kind: 'cmd.failed', command: 'multipathd show status', retrying: false }]);
  });
});

describe('os-brick', () => {
  it('reads its trace lines, 6.1 repr with the arguments quoted', () => {
    expect(parseOsBrick(`==> connect_volume: call "{'self': <os_brick.initiator.connectors.iscsi.ISCSIConnector object at 0x7fcc30b37810>, 'connection_properties': {'volume_id': '5ed0cc5c-158c-4857-9bd5-3556884a23f0'}}"`)[0]).toMatchObject({ kind: 'brick.call', fn: 'connect_volume' });
    const ret = parseOsBrick("<== connect_volume: return (254525ms) {'path': u'/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192', 'scsi_wwn': u'36006016074e03a008d3cf25b04e2daae', 'type': u'block'}")[0];
    expect(ret).toMatchObject({ kind: 'brick.return', fn: 'connect_volume', ms: 254525 });
    expect(reprValue(ret?.kind === 'brick.return' ? ret.result : '', 'scsi_wwn')).toBe('36006016074e03a008d3cf25b04e2daae');
    expect(parseOsBrick("<== connect_volume: exception (37184ms) VolumeDeviceNotFound('Volume device not found at .')")).toEqual([{ kind: 'brick.raise', fn: 'connect_volume', ms: 37184, exception: "VolumeDeviceNotFound('Volume device not found at .')" }]);
    expect(reprList("{'target_portals': ['192.168.1.59:3260', '192.168.1.60:3260'], 'target_luns': [192, 192]}", 'target_luns')).toEqual(['192', '192']);
  });

  it('reads the portal lines of the open-iscsi list post and of 6.1', () => {
    expect(parseOsBrick('Trying to connect to iSCSI portal 170.0.0.10:3260')).toEqual([{ kind: 'portal.try', portal: '170.0.0.10:3260' }]);
    expect(parseOsBrick('Failed to login iSCSI target iqn.1992-04.com.emc:cx.ckm00185002995.a0 on portal 170.0.0.10:3260 (exit code 8).')).toEqual([
      { kind: 'portal.login-failed', iqn: 'iqn.1992-04.com.emc:cx.ckm00185002995.a0', portal: '170.0.0.10:3260', exitCode: 8 },
    ]);
    expect(parseOsBrick('Could not login to any iSCSI portal.')).toEqual([{ kind: 'portal.none' }]);
    expect(parseOsBrick('Failed to connect to iSCSI portal 127.0.0.2:3999.')).toEqual([{ kind: 'portal.failed', portal: '127.0.0.2:3999' }]);
    expect(parseOsBrick('Retrying to connect to iSCSI portal 127.0.0.1:3999')).toEqual([{ kind: 'portal.retry', portal: '127.0.0.1:3999' }]);
    expect(parseOsBrick('No dm was created, connection to volume is probably bad and will perform poorly.')).toEqual([{ kind: 'multipath.none', wwn: null }]);
  });

  it('reads Newton’s rescans, multipath waits and single-path fallback (the seed’s lines)', () => {
    expect(parseOsBrick("ISCSI volume not yet found at: [u'/dev/disk/by-path/ip-192.168.1.59:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.a0-lun-192']. Will rescan & retry.  Try number: 0.")[0]).toMatchObject({ kind: 'device.missing', attempt: 0 });
    expect(parseOsBrick("Found iSCSI node [u'/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192'] (after 1 rescans)")[0]).toMatchObject({ kind: 'device.found', rescans: 1 });
    expect(parseOsBrick('Find Multipath device file for volume WWN 36006016074e03a008d3cf25b04e2daae')).toEqual([{ kind: 'multipath.wait', wwn: '36006016074e03a008d3cf25b04e2daae' }]);
    expect(parseOsBrick("couldn't find a valid multipath device path for 36006016074e03a008d3cf25b04e2daae")).toEqual([{ kind: 'multipath.none', wwn: '36006016074e03a008d3cf25b04e2daae' }]);
    expect(parseOsBrick('Unable to find multipath device name for volume. Using path /dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192 for volume.')).toEqual([
      { kind: 'multipath.fallback', path: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192' },
    ]);
    expect(parseOsBrick('/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9 has shown up.')).toEqual([{ kind: 'path.appeared', path: '/dev/disk/by-id/dm-uuid-mpath-36006016015e03a00ab2df25bb82d0ea9' }]);
  });
});

describe('Nova', () => {
  it('reads attach, detach, failure and libvirt lines across releases', () => {
    expect(parseNova('Attaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5 to /dev/vdd')).toEqual([{ kind: 'nova.attaching', volume: 'c2e52f3d-4e43-4692-8c3c-a64f611baed5', mountpoint: '/dev/vdd' }]);
    expect(parseNova('Detaching volume 16409427-718d-47c2-a224-dcae611c9e34')).toEqual([{ kind: 'nova.detaching', volume: '16409427-718d-47c2-a224-dcae611c9e34', mountpoint: null }]);
    expect(parseNova('Attempting to driver detach volume 16409427-718d-47c2-a224-dcae611c9e34 from mountpoint /dev/vdd')).toEqual([{ kind: 'nova.detaching', volume: '16409427-718d-47c2-a224-dcae611c9e34', mountpoint: '/dev/vdd' }]);
    expect(parseNova('Failed to attach 9036101a-8833-448f-8cdf-21ff1bc7dd76 at /dev/vdb')).toEqual([{ kind: 'nova.attach-failed', volume: '9036101a-8833-448f-8cdf-21ff1bc7dd76', mountpoint: '/dev/vdb' }]);
    expect(parseNova('Successfully detached device vdd from instance b6d86451-8ad3-4224-ac3a-b23e146f3e64 from the live domain config.')).toEqual([{ kind: 'libvirt.detached', target: 'vdd', config: 'live' }]);
    const xml = 'attach device xml: <disk type="block" device="disk">\n  <driver name="qemu" type="raw" cache="none" io="native"/>\n  <source dev="/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192"/>\n  <target bus="virtio" dev="vdb"/>\n  <serial>e8f58c95-3f8a-40dc-861d-163ce68fcdaf</serial>\n</disk>';
    expect(parseNova(xml)).toEqual([{ kind: 'libvirt.attach', source: '/dev/disk/by-path/ip-192.168.1.60:3260-iscsi-iqn.1992-04.com.emc:cx.apm00150602415.b0-lun-192', target: 'vdb', serial: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf' }]);
    expect(parseNova('Update attachment failed for attachment 02d9dff5-b18d-4d12-87b5-4611f7aa4669. Error: Unable to update attachment.(x). (HTTP 500)')[0]).toMatchObject({ kind: 'nova.cinder-failed', what: 'Update attachment' });
  });
});

describe('REST calls and the storage side', () => {
  it('reads keystoneauth’s REQ/RESP and the request id that ties Nova to cinder-api', () => {
    const req = parseRest(
      `REQ: curl -g -i -X POST http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action -H "User-Agent: python-cinderclient" -H "Content-Type: application/json" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8" -d '{"os-initialize_connection": {"connector": {"platform": "x86_64", "host": "newton"}}}'`,
      'keystoneauth.session',
    );
    expect(req).toEqual([{ kind: 'rest.req', method: 'POST', url: 'http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action', action: 'os-initialize_connection' }]);
    expect(templatePath('http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action')).toBe('/v2/{project_id}/volumes/{id}/action');
    expect(parseRest('RESP: [200] Content-Length: 1183 Content-Type: application/json x-openstack-request-id: req-54e14a81-475d-4f74-bdf4-bd3ec3210955', 'keystoneauth.session')).toEqual([{ kind: 'rest.resp', status: 200, requestId: 'req-54e14a81-475d-4f74-bdf4-bd3ec3210955' }]);
    expect(parseRest('POST call to volumev3 for http://172.16.1.12/volume/v3/fed60db241ca4ad5b6a9da1ba04e2cab/attachments used request id req-54e14a81-475d-4f74-bdf4-bd3ec3210955', 'keystoneauth.session')).toEqual([
      { kind: 'rest.request-id', method: 'POST', url: 'http://172.16.1.12/volume/v3/fed60db241ca4ad5b6a9da1ba04e2cab/attachments', requestId: 'req-54e14a81-475d-4f74-bdf4-bd3ec3210955' },
    ]);
    expect(parseRest('RESP BODY: {"connection_info": {}}', 'keystoneauth.session')).toEqual([]);
    // cinderclient's HTTPClient (its format string, cinderclient 1.9): URL first, headers glued.
    expect(parseRest(`\nREQ: curl -i http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action -X POST-H 'X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8'-H 'Content-Type: application/json' -d '{"os-attach": {"mountpoint": "/dev/vdb"}}'\n`, 'cinderclient.client')).toEqual([
      { kind: 'rest.req', method: 'POST', url: 'http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action', action: 'os-attach' },
    ]);
    expect(parseRest("RESP: [202] {'content-length': '0', 'x-openstack-request-id': 'req-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'}\nRESP BODY: \n", 'cinderclient.client')).toEqual([{ kind: 'rest.resp', status: 202, requestId: 'req-9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' }]);
  });

  it('reads cinder-volume’s steps and failures (public report, 2017 and 2020)', () => {
    expect(parseCinder('Initialize volume connection completed successfully.')).toEqual([{ kind: 'cinder.step', what: 'Initialize volume connection', ok: true, detail: null }]);
    expect(parseCinder('Driver initialize connection failed (error: Bad or unexpected response from the storage volume backend API: Failed to find available iSCSI targets for overcloud-triplenicovscompute-2.localdomain.).')[0]).toMatchObject({
      kind: 'cinder.step',
      what: 'Driver initialize connection failed',
      ok: false,
    });
  });
});

describe('exceptions', () => {
  it('finds the exception at the end of a traceback, prefixed or not', () => {
    expect(parseException("TypeError: Argument must be bytes or unicode, got 'NoneType'", 'ERROR')).toEqual([{ kind: 'exception', summary: "TypeError: Argument must be bytes or unicode, got 'NoneType'" }]);
    expect(parseException('  File "/usr/lib/python2.7/dist-packages/nova/virt/block_device.py", line 48, in wrapped', 'ERROR')).toEqual([{ kind: 'traceback' }]);
    expect(parseException('Traceback (most recent call last):\n  File "x.py", line 1, in f\n    g()\nFileNotFoundError: [Errno 2] No such file or directory: \'multipathd\'', 'DEBUG')).toEqual([]);
    expect(parseException('boom\nTraceback (most recent call last):\n  File "x.py", line 1, in f\nos_brick.exception.VolumeDeviceNotFound: Volume device not found at .', 'ERROR')).toEqual([
      { kind: 'exception', summary: 'os_brick.exception.VolumeDeviceNotFound: Volume device not found at .' },
    ]);
  });
});

describe('masking', () => {
  it('hides CHAP passwords, tokens and URL credentials in the shapes OpenStack logs them, and keeps fingerprints', () => {
    expect(maskLogText("'auth_password': u'V3ryS3cret', 'auth_username': 'u1'")).toBe("'auth_password': u'***', 'auth_username': 'u1'");
    expect(maskLogText("iscsiadm ('--op', 'update', '-n', 'node.session.auth.password', '-v', 'hunter22')")).toBe("iscsiadm ('--op', 'update', '-n', 'node.session.auth.password', '-v', '***')");
    expect(maskLogText('iscsiadm -m node -T iqn -p 1.2.3.4:3260 --op update -n node.session.auth.password -v hunter22 execute')).toBe('iscsiadm -m node -T iqn -p 1.2.3.4:3260 --op update -n node.session.auth.password -v *** execute');
    expect(maskLogText('-H "X-Auth-Token: gAAAAABlongtoken" -H "X-Auth-Token: {SHA256}abcdef"')).toBe('-H "X-Auth-Token: ***" -H "X-Auth-Token: {SHA256}abcdef"');
    expect(maskLogText('transport_url = rabbit://openstack:Welcome1234@10.10.31.166')).toBe('transport_url = rabbit://openstack:***@10.10.31.166');
    expect(maskLogText("{'auth_password': 'cutmid")).toBe("{'auth_password': '***");
    expect(maskLogText('2019-10-07 16:09:52.458 28347 INFO os_brick.initiator.connectors.iscsi [req-1f65b818-108d-41cb-9ea1-ca18761a673f - - - - -] Trying to connect to iSCSI portal 170.0.0.10:3260')).toBe(
      '2019-10-07 16:09:52.458 28347 INFO os_brick.initiator.connectors.iscsi [req-1f65b818-108d-41cb-9ea1-ca18761a673f - - - - -] Trying to connect to iSCSI portal 170.0.0.10:3260',
    );
  });
});
