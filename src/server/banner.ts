/**
 * What `hitch serve` and `hitch api` print when they are up: where, on what, with which
 * credentials, and one thing to try that works here — named for this server (its data
 * directory when it is not the default one a client looks in) and only when it exists.
 */
import { relative, resolve } from 'node:path';
import type { HitchConfig } from './config.ts';

export interface BannerFacts {
  readonly config: HitchConfig;
  readonly role: 'all-in-one' | 'api';
  /** Virtual time pacing of an in-process simulation (x real time; 0: unpaced). */
  readonly speed: number;
  /** The simulator daemon's world, when the data plane is one (`simSocket`). */
  readonly daemon: { readonly scenario: string; readonly seed: number; readonly hosts: readonly string[] } | null;
  /** The passwords, when this start created the users (admin null: the operator gave it); null otherwise. */
  readonly created: { readonly admin: string | null; readonly demo: string } | null;
  /** Where the credentials are, or null when this data directory has none that work. */
  readonly credentialsFile: string | null;
  /** demo-server and demo-volume exist, the server ACTIVE and the volume available. */
  readonly demoReady: boolean;
  /** Compute hosts with a live agent (API processes). */
  readonly agents: readonly string[];
}

/** The data directory as a person types it: relative to here when under here. */
export function shownDir(dir: string, cwd = process.cwd()): string {
  const rel = relative(cwd, dir);
  return rel === '' ? '.' : rel.startsWith('..') || rel.startsWith('/') ? dir : `./${rel}`;
}

/** `hitch`, with `--data-dir DIR` when the data directory is not the one clients default to. */
export function hitchFor(dataDir: string, cwd = process.cwd()): string {
  return resolve(cwd, '.data') === dataDir ? 'hitch' : `hitch --data-dir ${shownDir(dataDir, cwd)}`;
}

function dataPlane(f: BannerFacts): string {
  const c = f.config;
  if (f.daemon) return `simulated: the world of the simulator daemon at ${c.simSocket} (scenario ${f.daemon.scenario}, seed ${f.daemon.seed}, hosts ${f.daemon.hosts.join(', ')}; its clock, as the daemon paces it)`;
  if (c.backend === 'sim' && c.virt === 'sim') return `simulated in this process, scenario ${c.scenario}, seed ${c.seed}, ${f.speed > 0 ? `${f.speed}x real time` : 'virtual time unpaced'}`;
  const storage = c.backend === 'tgt' ? `tgt targets on ${c.tgtPortals.join(', ')}` : c.backend === 'nvmet' ? `nvmet (NVMe/TCP) on ${c.nvmetPortals.join(', ')}` : c.backend;
  return `${storage} + ${c.virt === 'libvirt' ? `libvirt (${c.libvirtUri})` : c.virt}, ${c.attachMode === 'qemu-native' ? "QEMU's own iSCSI" : 'kernel initiator'}`;
}

export function bannerLines(f: BannerFacts): string[] {
  const c = f.config;
  const hitch = hitchFor(c.dataDir);
  const out = [`Hitch is running at ${c.publicUrl}/ (dashboard; APIs under /identity/v3, /volume/v3, /compute/v2.1)`];
  if (f.role === 'api') out.push(`  role: an API process of a scale-out cloud on ${c.databaseUrl.replace(/\/\/[^@/]*@/, '//')}; attaches run on the agents`);
  out.push(`  data plane: ${dataPlane(f)}`);
  out.push(`  data: ${shownDir(c.dataDir)}`);
  if (f.created) {
    out.push(f.role === 'api' ? '  first start: created the admin and demo projects' : '  first start: created the admin and demo projects, the volume demo-volume and the server demo-server');
    out.push(f.created.admin === null ? '  admin  password as given (HITCH_ADMIN_PASSWORD or the config file; not printed)' : `  admin  password ${f.created.admin}`);
    out.push(`  demo   password ${f.created.demo}`);
    out.push(`  (kept in ${f.credentialsFile}; not printed again)`);
  } else if (f.credentialsFile) {
    out.push(`  credentials: ${f.credentialsFile}`);
  } else {
    out.push('  credentials: none here — the database already had its users, created by the first process that started on it:');
    out.push(`  copy that process's credentials.json into ${shownDir(c.dataDir)}/ to use this one`);
  }
  if (f.role === 'api') {
    out.push(f.agents.length > 0 ? `  agents: ${f.agents.join(', ')}` : '  agents: none yet — start one per compute host: hitch agent --host NAME (same --database-url and data plane)');
  }
  if (f.credentialsFile === null) return out;
  if (f.demoReady) out.push(`  try: ${hitch} attach demo-server demo-volume`);
  else if (f.role === 'api' && f.agents.length === 0) out.push(`  try: ${hitch} volume list   (servers need an agent)`);
  else out.push(`  try: ${hitch} volume list; ${hitch} server list`);
  out.push(`       OS_CLIENT_CONFIG_FILE=${shownDir(c.dataDir)}/clouds.yaml openstack --os-cloud hitch server list`);
  return out;
}
