/** `hitch volume …` and `hitch server …`: create, list, show, delete over the OpenStack APIs. */
import { Option, type Command } from 'commander';
import { HitchError, ref } from '../../errors.ts';
import type { CliContext } from '../context.ts';
import { fields, json, table } from '../format.ts';
import { findServer, findVolume, flavorId, imageId, listServers, listVolumes, operationHistory, type Server, type Volume } from '../resources.ts';

/** A whole number of GiB; the upper limit is the server's (its maxVolumeSizeGiB), which the API enforces. */
const positiveInt = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `size must be a whole number of GiB, at least 1 (got ${v})` });
  return Number(v);
};

const volumeRow = (v: Volume, servers: Map<string, string>) => [
  v.id,
  v.name ?? '',
  v.status,
  v.size,
  v.attachments.map((a) => `${servers.get(a.server_id) ?? a.server_id} ${a.device ?? ''}`.trim()).join(', '),
];

export function registerResourceCommands(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('block storage volumes (Cinder v3)');
  volume
    .command('create')
    .description('create a volume and wait until it is available')
    .argument('<name>', 'volume name')
    .option('--size <GiB>', 'size in GiB', '1')
    .option('--description <text>', 'description')
    .option('--no-wait', 'return at once, while the volume is creating')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { size: string; description?: string; wait: boolean; json?: boolean }) => {
      const body = { volume: { name, size: positiveInt(o.size), ...(o.description ? { description: o.description } : {}) } };
      let v = (await ctx.client.call<{ volume: Volume }>('volume', 'POST', '/volumes', body)).body.volume;
      // Bounded: creating takes the array's time (virtual on the simulator).
      for (let i = 0; o.wait && v.status === 'creating' && i < 600; i++) {
        await new Promise((r) => setTimeout(r, 100));
        v = (await ctx.client.call<{ volume: Volume }>('volume', 'GET', `/volumes/${v.id}`)).body.volume;
      }
      ctx.io.out(o.json ? json(v) : fields({ id: v.id, name: v.name, status: v.status, size: v.size }));
    });
  volume
    .command('list')
    .description('list the project\'s volumes')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const vols = await listVolumes(ctx.client);
      if (o.json) return ctx.io.out(json(vols));
      const names = new Map((await listServers(ctx.client)).map((s) => [s.id, s.name]));
      ctx.io.out(table(['ID', 'Name', 'Status', 'Size', 'Attached to'], vols.map((v) => volumeRow(v, names))));
    });
  volume
    .command('show')
    .description('show one volume')
    .argument('<volume>', 'volume name or id')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { json?: boolean }) => {
      const v = await findVolume(ctx.client, ref);
      ctx.io.out(o.json ? json(v) : fields({ id: v.id, name: v.name, status: v.status, size: v.size, attachments: v.attachments.map((a) => ({ server_id: a.server_id, device: a.device })) }));
    });
  volume
    .command('delete')
    .description('delete volumes')
    .argument('<volume...>', 'volume names or ids')
    .action(async (refs: string[]) => {
      for (const ref of refs) {
        const v = await findVolume(ctx.client, ref);
        await ctx.client.call('volume', 'DELETE', `/volumes/${v.id}`);
        ctx.io.out(`deleted volume ${v.name ?? v.id} (${v.id})`);
      }
    });

  const server = program.command('server').description('servers (Nova v2.1)');
  server
    .command('create')
    .description('create a server and wait until it is ACTIVE')
    .argument('<name>', 'server name')
    .option('--flavor <flavor>', 'flavor id or name', '1')
    .option('--image <image>', 'image id or name', 'hitch-tiny')
    .option('--no-wait', 'return at once, while the server builds')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { flavor: string; image: string; wait: boolean; json?: boolean }) => {
      // Nova takes ids only: names are looked up first, as the openstack client does.
      const body = { server: { name, flavorRef: await flavorId(ctx.client, o.flavor), imageRef: await imageId(ctx.client, o.image), networks: 'none' } };
      const id = (await ctx.client.call<{ server: { id: string } }>('compute', 'POST', '/servers', body)).body.server.id;
      let s = (await ctx.client.call<{ server: Server }>('compute', 'GET', `/servers/${id}`)).body.server;
      // Bounded: the simulator builds in milliseconds, a real host in seconds.
      for (let i = 0; o.wait && s.status === 'BUILD' && i < 600; i++) {
        await new Promise((r) => setTimeout(r, 100));
        s = (await ctx.client.call<{ server: Server }>('compute', 'GET', `/servers/${id}`)).body.server;
      }
      if (o.wait && s.status !== 'ACTIVE') throw new HitchError('HITCH_INSTANCE_INVALID_STATE', { action: 'create', server: ref(s), serverArg: s.name, state: s.status });
      ctx.io.out(o.json ? json(s) : fields({ id: s.id, name: s.name, status: s.status }));
    });
  server
    .command('list')
    .description("list the project's servers")
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const all = await listServers(ctx.client);
      if (o.json) return ctx.io.out(json(all));
      ctx.io.out(table(['ID', 'Name', 'Status', 'Volumes'], all.map((s) => [s.id, s.name, s.status, (s['os-extended-volumes:volumes_attached'] ?? []).length])));
    });
  server
    .command('show')
    .description('show one server')
    .argument('<server>', 'server name or id')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { json?: boolean }) => {
      const s = await findServer(ctx.client, ref);
      ctx.io.out(o.json ? json(s) : fields({ id: s.id, name: s.name, status: s.status, volumes: (s['os-extended-volumes:volumes_attached'] ?? []).map((v) => v.id).join(', ') }));
    });
  registerOperationCommands(program, ctx);
  server
    .command('delete')
    .description('delete servers (their volumes are detached first)')
    .argument('<server...>', 'server names or ids')
    .action(async (refs: string[]) => {
      for (const ref of refs) {
        const s = await findServer(ctx.client, ref);
        await ctx.client.call('compute', 'DELETE', `/servers/${s.id}`);
        ctx.io.out(`deleting server ${s.name} (${s.id})`);
      }
    });
}

/**
 * `hitch operations list`: the operation history (every attach and detach, failed and rolled back
 * ones too, kept for operationRetentionDays), newest first, filtered and paged by the server.
 */
function registerOperationCommands(program: Command, ctx: CliContext): void {
  const ops = program.command('operations').description('the history of attaches and detaches, failed ones included (each with its trace: hitch explain ID)');
  ops
    .command('list')
    .description('list operations, newest first')
    .addOption(new Option('--status <status>', 'only these: running, done, or failed (rolled back or failed)').choices(['running', 'done', 'failed']))
    .addOption(new Option('--kind <kind>', 'only attaches or detaches').choices(['attach', 'detach']))
    .option('--server <server>', 'only this server (name or id)')
    .option('--volume <volume>', 'only this volume (name or id)')
    .option('--limit <n>', 'at most this many (1–1000)', '50')
    .option('--marker <id>', 'the page after this operation (printed under a full page)')
    .option('--all-projects', "every project's operations (admin)")
    .option('--json', 'print JSON')
    .action(async (o: { status?: string; kind?: string; server?: string; volume?: string; limit: string; marker?: string; allProjects?: boolean; json?: boolean }) => {
      const q: Record<string, string> = { limit: o.limit };
      if (o.status) q['status'] = o.status;
      if (o.kind) q['kind'] = o.kind;
      if (o.server) q['server_id'] = (await findServer(ctx.client, o.server)).id;
      if (o.volume) q['volume_id'] = (await findVolume(ctx.client, o.volume)).id;
      if (o.marker) q['marker'] = o.marker;
      if (o.allProjects) q['all_projects'] = '1';
      const page = await operationHistory(ctx.client, q);
      if (o.json) return ctx.io.out(json(page));
      const servers = new Map((await listServers(ctx.client)).map((s) => [s.id, s.name]));
      const volumes = new Map((await listVolumes(ctx.client)).map((v) => [v.id, v.name ?? '']));
      const name = (m: Map<string, string>, id: string): string => (m.get(id) ? `${m.get(id)} (${id.slice(0, 8)})` : id);
      const rows = page.operations.map((x) => [
        x.id,
        x.kind,
        x.state === 'rolled_back' ? 'rolled back' : x.state,
        name(servers, x.server_id),
        name(volumes, x.volume_id),
        x.created_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        x.duration_ms === null ? '' : formatDuration(x.duration_ms),
        x.error ? `${x.error.code} at ${x.step ?? '?'}` : '',
        x.request_id,
      ]);
      ctx.io.out(page.operations.length === 0 ? 'no operations' : table(['ID', 'Kind', 'State', 'Server', 'Volume', 'Asked at', 'Took', 'Error', 'Request'], rows));
      if (page.next) ctx.io.out(`more: hitch operations list --marker ${page.next}${o.status ? ` --status ${o.status}` : ''}`);
      if (page.operations.length > 0) ctx.io.out(`trace of one: hitch explain ${page.operations[0]?.id ?? 'ID'}`);
    });
}

const formatDuration = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
