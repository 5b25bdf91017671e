/**
 * Records what the real kernel's NVMe/TCP stack and nvme-cli say in the storage host guest, for
 * brick's parser fixtures and the simulator's NVMe model (`test/fixtures/nvme/`). Not part of
 * `npm test`: run by hand when the image's kernel or nvme-cli changes —
 *
 *   flock /tmp/hitch-guest.lock npx tsx src/test-support/storage-host/cli.ts test/storage-host/nvme-record.guest.ts record > /tmp/nvme-record.json
 *
 * The target is the kernel's nvmet, configured through configfs (`nvmet-target.ts`) on the
 * guest's loopback; everything recorded is raw (stdout, stderr, exit code, wall time).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { GuestCases } from '../../src/test-support/storage-host/guest/runner.ts';
import { sh, sleep } from '../../src/test-support/storage-host/guest/storage.ts';
import { NvmetTarget, nvmeLeftovers } from './nvmet-target.ts';

const NQN = 'nqn.2014-08.org.hitch:vol-record';
const UUID1 = '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a51';
const UUID2 = '6f0b3e52-1c2d-4e5f-8a9b-0c1d2e3f4a52';

function tryRead(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    return `ERR ${(e as Error).message}`;
  }
}

function tree(dir: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = `${dir}/${n}`;
    try {
      const l = readlinkSync(p);
      out[n] = `-> ${l}`;
      continue;
    } catch {
      /* not a link */
    }
    try {
      readdirSync(p);
      out[n] = depth > 0 ? tree(p, depth - 1) : '<dir>';
    } catch {
      const v = tryRead(p);
      out[n] = v !== null && v.length < 400 ? v : '<big>';
    }
  }
  return out;
}

async function run(cmd: string, args: string[], timeoutMs = 60_000) {
  const r = await sh(cmd, args, timeoutMs);
  return { argv: [cmd, ...args].join(' '), code: r.code, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
}

export const cases: GuestCases = {
  record: {
    run: async (ctx) => {
      const rec: Record<string, unknown> = {};
      const t = new NvmetTarget();
      await t.reset();
      rec['hostnqn'] = tryRead('/etc/nvme/hostnqn');
      rec['hostid'] = tryRead('/etc/nvme/hostid');
      rec['multipathParam'] = tryRead('/sys/module/nvme_core/parameters/multipath');
      rec['version'] = await run('nvme', ['version']);
      rec['genHostnqn'] = await run('nvme', ['gen-hostnqn']);
      rec['showHostnqn'] = await run('nvme', ['show-hostnqn']);
      await t.addSubsystem(NQN, [{ nsid: 1, uuid: UUID1, sizeMb: 64 }, { nsid: 2, uuid: UUID2, sizeMb: 32 }]);
      await t.addPort(1, '127.0.0.1', 4420, [NQN]);
      await t.addPort(2, '127.0.0.2', 4420, [NQN]);
      rec['configfs'] = tree('/sys/kernel/config/nvmet', 4);
      const hostnqn = (tryRead('/etc/nvme/hostnqn') ?? '').trim();
      const q = hostnqn.startsWith('nqn.') ? ['-q', hostnqn] : [];
      rec['listEmpty'] = await run('nvme', ['list', '-o', 'json']);
      rec['listSubsysEmpty'] = await run('nvme', ['list-subsys', '-o', 'json']);
      rec['connect1'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', NQN, ...q]);
      rec['connect1again'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', NQN, ...q]);
      rec['connect2'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.2', '-s', '4420', '-n', NQN, ...q, '--ctrl-loss-tmo', '10', '--reconnect-delay', '2']);
      rec['connectRefused'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.3', '-s', '4420', '-n', NQN, ...q]);
      rec['connectWrongNqn'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', 'nqn.2014-08.org.hitch:nope', ...q]);
      await sh('udevadm', ['settle', '--timeout=30']);
      rec['list'] = await run('nvme', ['list', '-o', 'json']);
      rec['listV'] = await run('nvme', ['list', '-v', '-o', 'json']);
      rec['listSubsys'] = await run('nvme', ['list-subsys', '-o', 'json']);
      rec['listSubsysDev'] = await run('nvme', ['list-subsys', '-o', 'json', '/dev/nvme0n1']);
      rec['sysNvmeSubsystem'] = tree('/sys/class/nvme-subsystem', 3);
      rec['sysNvme'] = tree('/sys/class/nvme', 2);
      rec['sysBlock'] = readdirSync('/sys/class/block').sort();
      rec['byId'] = tree('/dev/disk/by-id', 0);
      rec['devNvme'] = readdirSync('/dev').filter((n) => n.startsWith('nvme')).sort();
      // A portal dropped by nftables while connected: the controller's states over time.
      const rules = 'table inet hitch_nvme_drop {\n chain in { type filter hook input priority 0; ip daddr 127.0.0.2 tcp dport 4420 drop; ip saddr 127.0.0.2 tcp sport 4420 drop; }\n chain out { type filter hook output priority 0; ip daddr 127.0.0.2 tcp dport 4420 drop; }\n}\n';
      const { writeFileSync } = await import('node:fs');
      writeFileSync('/tmp/nvme-drop.nft', rules);
      rec['nftDrop'] = await run('nft', ['-f', '/tmp/nvme-drop.nft']);
      const states: string[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 40; i++) {
        const s = readdirSync('/sys/class/nvme').map((c) => `${c}=${(tryRead(`/sys/class/nvme/${c}/state`) ?? '').trim()}@${(tryRead(`/sys/class/nvme/${c}/address`) ?? '').trim()}`);
        states.push(`${Date.now() - t0}ms ${s.join(' ')}`);
        if (readdirSync('/sys/class/nvme').length < 2) break;
        await sleep(1000);
      }
      rec['dropStates'] = states;
      rec['listSubsysAfterDrop'] = await run('nvme', ['list-subsys', '-o', 'json']);
      rec['connectDropped'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.2', '-s', '4420', '-n', NQN, ...q], 120_000);
      await sh('nft', ['delete', 'table', 'inet', 'hitch_nvme_drop']);
      rec['disconnectDev'] = await run('nvme', ['disconnect', '-d', 'nvme0']);
      rec['disconnectNqn'] = await run('nvme', ['disconnect', '-n', NQN]);
      rec['disconnectNqnAgain'] = await run('nvme', ['disconnect', '-n', NQN]);
      await sh('udevadm', ['settle', '--timeout=30']);
      rec['leftoversAfterDisconnect'] = nvmeLeftovers();
      // Without native multipath: one block device per controller.
      rec['rmmod'] = await run('modprobe', ['-r', 'nvme_tcp', 'nvme_fabrics', 'nvme', 'nvme_core']);
      rec['modprobeNoMp'] = await run('modprobe', ['nvme_core', 'multipath=N']);
      await run('modprobe', ['nvme_tcp']);
      rec['multipathParamOff'] = tryRead('/sys/module/nvme_core/parameters/multipath');
      rec['connectNoMp1'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', NQN, ...q]);
      rec['connectNoMp2'] = await run('nvme', ['connect', '-t', 'tcp', '-a', '127.0.0.2', '-s', '4420', '-n', NQN, ...q]);
      await sh('udevadm', ['settle', '--timeout=30']);
      rec['listNoMp'] = await run('nvme', ['list', '-o', 'json']);
      rec['listSubsysNoMp'] = await run('nvme', ['list-subsys', '-o', 'json']);
      rec['sysNvmeSubsystemNoMp'] = tree('/sys/class/nvme-subsystem', 3);
      rec['sysNvmeNoMp'] = tree('/sys/class/nvme', 2);
      rec['byIdNoMp'] = tree('/dev/disk/by-id', 0);
      rec['disconnectNoMp'] = await run('nvme', ['disconnect', '-n', NQN]);
      rec['leftoversEnd'] = nvmeLeftovers();
      rec['dmesg'] = (await run('dmesg', [])).stdout.split('\n').filter((l) => /nvme/i.test(l)).slice(-80);
      await t.reset();
      ctx.log('recorded');
      return rec;
    },
  },
};
