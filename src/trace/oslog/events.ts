/**
 * What a log line says, once recognised: one small vocabulary shared by every parser (`parse/`)
 * and read by the assembler (`assemble.ts`) and the span builder (`spans.ts`). A record can say
 * nothing we know (`[]`), or one or more of these.
 */

export type LogEvent =
  // oslo.concurrency lockutils (and os-brick's copy of its synchronized wrapper)
  | { readonly kind: 'lock.acquiring'; readonly lock: string; readonly by: string | null }
  | { readonly kind: 'lock.acquired'; readonly lock: string; readonly by: string | null; readonly waitedMs: number | null }
  | { readonly kind: 'lock.released'; readonly lock: string; readonly by: string | null; readonly heldMs: number | null }
  // oslo.concurrency processutils
  | { readonly kind: 'cmd.start'; readonly command: string }
  | { readonly kind: 'cmd.end'; readonly command: string; readonly exitCode: number | null; readonly ms: number }
  | { readonly kind: 'cmd.failed'; readonly command: string; readonly retrying: boolean }
  | { readonly kind: 'cmd.error'; readonly command: string; readonly exitCode: number | null; readonly stderr: string }
  // os-brick's @utils.trace
  | { readonly kind: 'brick.call'; readonly fn: string; readonly args: string }
  | { readonly kind: 'brick.return'; readonly fn: string; readonly ms: number; readonly result: string }
  | { readonly kind: 'brick.raise'; readonly fn: string; readonly ms: number; readonly exception: string }
  // os-brick's iSCSI connector
  | { readonly kind: 'portal.try'; readonly portal: string }
  | { readonly kind: 'portal.retry'; readonly portal: string }
  | { readonly kind: 'portal.logged-in'; readonly portal: string }
  | { readonly kind: 'portal.device'; readonly portal: string | null; readonly device: string }
  | { readonly kind: 'portal.login-failed'; readonly portal: string; readonly iqn: string; readonly exitCode: number | null }
  | { readonly kind: 'portal.failed'; readonly portal: string }
  | { readonly kind: 'portal.no-lun'; readonly portal: string; readonly lun: string }
  | { readonly kind: 'portal.none' }
  | { readonly kind: 'multipath.discovery'; readonly enabled: boolean }
  | { readonly kind: 'multipath.wait' ; readonly wwn: string | null }
  | { readonly kind: 'multipath.none'; readonly wwn: string | null }
  | { readonly kind: 'multipath.found'; readonly path: string }
  | { readonly kind: 'multipath.fallback'; readonly path: string }
  | { readonly kind: 'path.check'; readonly path: string }
  | { readonly kind: 'path.appeared'; readonly path: string }
  | { readonly kind: 'device.missing'; readonly paths: string; readonly attempt: number }
  | { readonly kind: 'device.found'; readonly paths: string; readonly rescans: number }
  | { readonly kind: 'device.wwn'; readonly wwn: string }
  | { readonly kind: 'rescan'; readonly what: string }
  | { readonly kind: 'brick.retry'; readonly what: string }
  // oslo.privsep: the daemon os-brick's commands run in, started on first use
  | { readonly kind: 'privsep.starting' }
  | { readonly kind: 'privsep.started' }
  // Nova
  | { readonly kind: 'nova.attaching'; readonly volume: string; readonly mountpoint: string }
  | { readonly kind: 'nova.detaching'; readonly volume: string; readonly mountpoint: string | null }
  | { readonly kind: 'nova.attach-failed'; readonly volume: string | null; readonly mountpoint: string | null }
  | { readonly kind: 'nova.detach-failed'; readonly volume: string | null }
  | { readonly kind: 'nova.brick'; readonly what: 'connect' | 'connected' | 'disconnect' | 'disconnected' }
  | { readonly kind: 'nova.attachment-update'; readonly attachment: string }
  | { readonly kind: 'nova.cinder-failed'; readonly what: string; readonly detail: string }
  | { readonly kind: 'nova.api-attach'; readonly volume: string; readonly server: string; readonly device: string | null }
  | { readonly kind: 'libvirt.attach'; readonly source: string | null; readonly target: string | null; readonly serial: string | null }
  | { readonly kind: 'libvirt.detach'; readonly target: string | null; readonly serial: string | null }
  | { readonly kind: 'libvirt.detached'; readonly target: string; readonly config: 'live' | 'persistent' }
  // REST calls as the client logs them (keystoneauth1, cinderclient)
  | { readonly kind: 'rest.req'; readonly method: string; readonly url: string; readonly action: string | null }
  | { readonly kind: 'rest.resp'; readonly status: number; readonly requestId: string | null }
  | { readonly kind: 'rest.request-id'; readonly method: string; readonly url: string; readonly requestId: string }
  // the services' side of a REST call (cinder-api, nova-api) and cinder-volume's steps
  | { readonly kind: 'api.request'; readonly method: string; readonly path: string; readonly status: number; readonly seconds: number }
  | { readonly kind: 'cinder.step'; readonly what: string; readonly ok: boolean; readonly detail: string | null }
  // Python exceptions (LOG.exception, tracebacks)
  | { readonly kind: 'traceback' }
  | { readonly kind: 'exception'; readonly summary: string };

export type EventKind = LogEvent['kind'];
export type EventOf<K extends EventKind> = Extract<LogEvent, { kind: K }>;
