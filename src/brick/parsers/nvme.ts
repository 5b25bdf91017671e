/**
 * nvme-cli's JSON (2.3, with libnvme 1.3: Debian 12), as recorded in the storage host guest
 * (`src/sim/testdata/nvme/guest-record.json`). Pure; unknown keys ignored, missing ones an error.
 *
 * `nvme list-subsys -o json`, e.g.
 * `[{"HostNQN":"nqn.2014-08.org.nvmexpress:uuid:953b…","HostID":"78bd…","Subsystems":[{"Name":"nvme-subsys0",
 *   "NQN":"nqn.2014-08.org.hitch:vol-record","Paths":[{"Name":"nvme0","Transport":"tcp",
 *   "Address":"traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1","State":"live"}]}]}]`
 * (`[\n]` when nothing is connected).
 *
 * `nvme list -o json`, e.g.
 * `{"Devices":[{"NameSpace":1,"DevicePath":"/dev/nvme0n1","Firmware":"6.1.0-57","ModelNumber":"Linux",
 *   "SerialNumber":"19a06e76d54040bd4a77","UsedBytes":67108864,"MaximumLBA":16384,"PhysicalSize":67108864,"SectorSize":4096}]}`
 */
import { parseControllerAddress } from '../connectors/nvme-sysfs.ts';

export interface NvmeSubsysPath {
  /** The controller, `nvmeX`. */
  readonly name: string;
  readonly transport: string;
  readonly address: { readonly traddr: string; readonly trsvcid: string };
  /** `live`, `connecting`, `resetting`, `deleting`, … */
  readonly state: string;
  /** Present when the listing was for one namespace (`list-subsys /dev/nvmeXnY`). */
  readonly anaState?: string;
}

export interface NvmeSubsys {
  readonly hostNqn: string;
  readonly name: string;
  readonly nqn: string;
  readonly paths: readonly NvmeSubsysPath[];
}

export interface NvmeListDevice {
  readonly nsid: number;
  readonly devicePath: string;
  readonly model: string;
  readonly serial: string;
  readonly physicalSize: number;
  readonly sectorSize: number;
}

function fail(what: string, why: string): never {
  throw new Error(`${what}: ${why}`);
}

const obj = (v: unknown, what: string): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...v } : fail(what, 'not an object'));
const arr = (v: unknown, what: string): unknown[] => (Array.isArray(v) ? v : fail(what, 'not a list'));
const str = (o: Record<string, unknown>, k: string, what: string): string => {
  const v = o[k];
  return typeof v === 'string' ? v : fail(what, `${k} is not a string`);
};
const num = (o: Record<string, unknown>, k: string, what: string): number => {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : fail(what, `${k} is not a number`);
};

export function parseNvmeListSubsys(json: string): NvmeSubsys[] {
  const hosts = arr(JSON.parse(json) as unknown, 'nvme list-subsys');
  return hosts.flatMap((h, i) => {
    const host = obj(h, `nvme list-subsys [${i}]`);
    const hostNqn = str(host, 'HostNQN', 'nvme list-subsys host');
    return arr(host['Subsystems'] ?? [], 'Subsystems').map((s, j) => {
      const sub = obj(s, `Subsystems[${j}]`);
      const paths = arr(sub['Paths'] ?? [], 'Paths').map((p, k): NvmeSubsysPath => {
        const path = obj(p, `Paths[${k}]`);
        const ana = path['ANAState'];
        return {
          name: str(path, 'Name', 'path'),
          transport: str(path, 'Transport', 'path'),
          address: parseControllerAddress(str(path, 'Address', 'path')),
          state: str(path, 'State', 'path'),
          ...(typeof ana === 'string' ? { anaState: ana } : {}),
        };
      });
      return { hostNqn, name: str(sub, 'Name', 'subsystem'), nqn: str(sub, 'NQN', 'subsystem'), paths };
    });
  });
}

export function parseNvmeList(json: string): NvmeListDevice[] {
  const top = obj(JSON.parse(json) as unknown, 'nvme list');
  return arr(top['Devices'], 'Devices').map((d, i) => {
    const dev = obj(d, `Devices[${i}]`);
    return {
      nsid: num(dev, 'NameSpace', 'device'),
      devicePath: str(dev, 'DevicePath', 'device'),
      model: str(dev, 'ModelNumber', 'device'),
      serial: str(dev, 'SerialNumber', 'device'),
      physicalSize: num(dev, 'PhysicalSize', 'device'),
      sectorSize: num(dev, 'SectorSize', 'device'),
    };
  });
}
