import { describe, expect, it } from 'vitest';
import type { DefineOptions, DomainSpec } from '../ports/hypervisor.ts';
import { VirtualClock } from '../sim/clock.ts';
import { SimHypervisor } from '../sim/sim-hypervisor.ts';
import { buildDomainXml } from '../virt/domain-xml.ts';
import { resolveConfig } from './config.ts';
import { consoleLogPath, GuestBootDriver } from './data-plane.ts';

/** The simulated hypervisor, keeping each spec it is handed (what libvirt would be defined with). */
class Recording extends SimHypervisor {
  readonly specs: DomainSpec[] = [];
  override defineAndStart(spec: DomainSpec, opts?: DefineOptions): Promise<void> {
    this.specs.push(spec);
    return super.defineAndStart(spec, opts);
  }
}

describe('GuestBootDriver: what a server on a real hypervisor boots', () => {
  const cfg = resolveConfig({ guestKernel: '/var/cache/guest/vmlinuz', guestInitrd: '/var/cache/guest/initrd.gz', dataDir: '/var/lib/hitch-test' }, {});
  const base = (n: number): DomainSpec => ({ name: `instance-0000000${n}`, uuid: `00000000-0000-4000-8000-00000000000${n}`, memoryMiB: 64, vcpus: 1, virtType: 'qemu' });

  it('a server from the image gets the configured kernel and initramfs (direct kernel boot)', async () => {
    const inner = new Recording({ clock: new VirtualClock() });
    await new GuestBootDriver(inner, cfg).defineAndStart(base(1), { start: false });
    const spec = inner.specs[0]!;
    expect(spec.boot).toEqual({ kernel: '/var/cache/guest/vmlinuz', initrd: '/var/cache/guest/initrd.gz', cmdline: cfg.guestCmdline });
    expect(spec.console).toEqual({ kind: 'file', path: consoleLogPath(cfg.dataDir, 'instance-00000001') });
    expect(buildDomainXml(spec)).toContain('<kernel>/var/cache/guest/vmlinuz</kernel>');
  });

  it('a server that boots from a volume gets no kernel: the firmware boots its first disk', async () => {
    const inner = new Recording({ clock: new VirtualClock() });
    await new GuestBootDriver(inner, cfg).defineAndStart({ ...base(2), bootsFromVolume: true }, { start: false });
    const spec = inner.specs[0]!;
    expect(spec.boot).toBeUndefined();
    const xml = buildDomainXml(spec);
    expect(xml).not.toContain('<kernel>');
    expect(xml).toContain('<boot dev="hd"/>');
    expect(spec.console).toEqual({ kind: 'file', path: consoleLogPath(cfg.dataDir, 'instance-00000002') });
  });
});
