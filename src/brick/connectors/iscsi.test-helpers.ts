/** Shared fixtures of the iSCSI connector tests. */
import { RecordingHost } from '../../host/recording-host.ts';
import { Trace } from '../../trace/span.ts';
import { FakeIscsiHost, type FakeHostOptions } from '../testing/fake-iscsi-host.ts';
import { IscsiConnector, type IscsiConnectorOptions } from './iscsi.ts';

export const A0 = 'iqn.1992-04.com.emc:cx.apm00150602415.a0';
export const B0 = 'iqn.1992-04.com.emc:cx.apm00150602415.b0';
export const WWN = '36006016074e03a008d3cf25b04e2daae';
export const P59 = '192.168.1.59:3260';
export const P60 = '192.168.1.60:3260';

/** The seed's `initialize_connection` result. */
export const SEED = {
  target_luns: [192, 192],
  target_lun: 192,
  target_iqns: [A0, B0],
  target_iqn: B0,
  target_portals: [P59, P60],
  target_portal: P60,
  target_discovered: true,
  encrypted: false,
  qos_specs: null,
  access_mode: 'rw',
  volume_id: 'e8f58c95-3f8a-40dc-861d-163ce68fcdaf',
};

export interface Rig {
  readonly fake: FakeIscsiHost;
  readonly host: RecordingHost;
  readonly trace: Trace;
  readonly conn: IscsiConnector;
  readonly logs: string[];
  now(): number;
}

export function rig(opts: FakeHostOptions, conn: Partial<Omit<IscsiConnectorOptions, 'host'>> = {}): Rig {
  const fake = new FakeIscsiHost(opts);
  const host = new RecordingHost(fake);
  const trace = new Trace(host.clock);
  const logs: string[] = [];
  const c = new IscsiConnector({ host, multipath: true, logger: (l) => logs.push(`${l.level} ${l.message}`), ...conn });
  return { fake, host, trace, conn: c, logs, now: () => host.clock.now() };
}

export function seedRig(extra: Partial<FakeHostOptions> = {}, conn: Partial<Omit<IscsiConnectorOptions, 'host'>> = {}): Rig {
  return rig(
    {
      targets: [
        { iqn: A0, portals: [P59], luns: { 192: { wwn: WWN } } },
        { iqn: B0, portals: [P60], luns: { 192: { wwn: WWN } } },
      ],
      deadPortals: [P59],
      ...extra,
    },
    conn,
  );
}

export const EMPTY = { nodes: [], sessions: [], disks: [], maps: [] };

/** iscsiadm node command prefix. */
export function node(iqn: string, portal: string, rest = ''): string {
  return `iscsiadm -m node -T ${iqn} -p ${portal}${rest ? ' ' + rest : ''}`;
}
