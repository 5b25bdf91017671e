/**
 * Nova's lines about an attach or a detach (compute manager, block_device, the libvirt driver
 * and guest, the cinder API wrapper; nova-api's request line), Newton to today.
 *
 *   Attaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5 to /dev/vdd                      (compute manager, every release)
 *   Detaching volume c2e52f3d-4e43-4692-8c3c-a64f611baed5                                  (compute manager, Queens on)
 *   Detach volume 5ed0cc5c-158c-4857-9bd5-3556884a23f0 from mountpoint /dev/vdb            (compute manager, Newton)
 *   Attempting to driver detach volume 16409427-718d-47c2-a224-dcae611c9e34 from mountpoint /dev/vdd
 *   Failed to attach 9036101a-8833-448f-8cdf-21ff1bc7dd76 at /dev/vdb                       (LOG.exception: a traceback follows)
 *   Driver failed to attach volume 9036101a-8833-448f-8cdf-21ff1bc7dd76 at /dev/vdb
 *   attach device xml: <disk type="block" device="disk">…</disk>                           (libvirt guest, DEBUG, XML on the lines below)
 *   Successfully detached device vdd from instance b6d86451-8ad3-4224-ac3a-b23e146f3e64 from the persistent domain config.
 *   Calling os-brick to attach iSCSI Volume / Attached iSCSI volume {'type': 'block', …}   (libvirt iSCSI volume driver, DEBUG)
 *   Updating existing volume attachment record: 02d9dff5-b18d-4d12-87b5-4611f7aa4669       (block_device, Queens on)
 *   Update attachment failed for attachment 02d9dff5-b18d-4d12-87b5-4611f7aa4669. Error: Unable to update attachment.(…). (HTTP 500) (Request-ID: req-54e14a81-475d-4f74-bdf4-bd3ec3210955) Code: 500
 *   Attach volume 5ed0cc5c-158c-4857-9bd5-3556884a23f0 to instance 62b302e5-6d95-4e61-8dd4-6aa8b1049545 at /dev/vdb   (nova-api)
 */
import type { LogEvent } from '../events.ts';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const ATTACHING = new RegExp(`^Attaching volume (${UUID}) to (\\S+)$`);
const DETACHING = new RegExp(`^(?:Detaching volume (${UUID})|Detach volume (${UUID}) from mountpoint (\\S+)|Attempting to driver detach volume (${UUID}) from mountpoint (\\S+))$`);
const ATTACH_FAILED = new RegExp(`^(?:Driver )?[Ff]ailed to attach (?:volume )?(${UUID})? ?at (?:mountpoint: )?(\\S+?)(?::.*)?$`, 's');
const DETACH_FAILED = new RegExp(`^(?:Failed to detach volume (${UUID}) from \\S+|Guest refused to detach volume (${UUID})|Driver failed to detach volume (${UUID}) at \\S+?\\.)`);
const DETACHED = /^Successfully detached device (\S+) from instance \S+ from the (persistent|live) domain config\.$/;
const ATTACHMENT_UPDATE = new RegExp(`^Updating existing volume attachment record: (${UUID})$`);
const CINDER_FAILED = /^((?:Create|Show|Update|Delete|Complete) attachment|Initialize connection|Terminate connection|Reserve|Attach|Detach) failed (?:for|on) (?:attachment|volume) (.*)$/s;
const API_ATTACH = new RegExp(`^Attach volume (${UUID}) to instance (${UUID}) at (\\S+)$`);
const XML_ATTR = (xml: string, tag: string, attr: string): string | null => new RegExp(`<${tag}\\b[^>]*\\b${attr}=["']([^"']+)["']`).exec(xml)?.[1] ?? null;

export function parseNova(message: string): LogEvent[] {
  let m: RegExpExecArray | null;
  switch (message.charCodeAt(0)) {
    case 65 /* A */:
      if ((m = ATTACHING.exec(message))) return [{ kind: 'nova.attaching', volume: m[1] ?? '', mountpoint: m[2] ?? '' }];
      if ((m = DETACHING.exec(message))) return [{ kind: 'nova.detaching', volume: m[4] ?? '', mountpoint: m[5] ?? null }];
      if ((m = API_ATTACH.exec(message))) return [{ kind: 'nova.api-attach', volume: m[1] ?? '', server: m[2] ?? '', device: m[3] ?? null }];
      if (message.startsWith('Attached iSCSI volume')) return [{ kind: 'nova.brick', what: 'connected' }];
      break;
    case 68 /* D */:
      if ((m = DETACHING.exec(message))) return [{ kind: 'nova.detaching', volume: m[1] ?? m[2] ?? '', mountpoint: m[3] ?? null }];
      if ((m = DETACH_FAILED.exec(message))) return [{ kind: 'nova.detach-failed', volume: m[3] ?? null }];
      if ((m = ATTACH_FAILED.exec(message))) return [{ kind: 'nova.attach-failed', volume: m[1] ?? null, mountpoint: m[2] ?? null }];
      if (message.startsWith('Disconnected iSCSI Volume')) return [{ kind: 'nova.brick', what: 'disconnected' }];
      break;
    case 70 /* F */:
      if ((m = ATTACH_FAILED.exec(message))) return [{ kind: 'nova.attach-failed', volume: m[1] ?? null, mountpoint: m[2] ?? null }];
      if ((m = DETACH_FAILED.exec(message))) return [{ kind: 'nova.detach-failed', volume: m[1] ?? null }];
      break;
    case 71 /* G */:
      if ((m = DETACH_FAILED.exec(message))) return [{ kind: 'nova.detach-failed', volume: m[2] ?? null }];
      break;
    case 83 /* S */:
      if ((m = DETACHED.exec(message))) return [{ kind: 'libvirt.detached', target: m[1] ?? '', config: m[2] === 'live' ? 'live' : 'persistent' }];
      break;
    case 85 /* U */:
      if ((m = ATTACHMENT_UPDATE.exec(message))) return [{ kind: 'nova.attachment-update', attachment: m[1] ?? '' }];
      break;
    case 97 /* a */:
      if (message.startsWith('attach device xml: ')) {
        const xml = message.slice(19);
        return [{ kind: 'libvirt.attach', source: XML_ATTR(xml, 'source', 'dev') ?? XML_ATTR(xml, 'source', 'name') ?? XML_ATTR(xml, 'source', 'file'), target: XML_ATTR(xml, 'target', 'dev'), serial: /<serial>([^<]+)<\/serial>/.exec(xml)?.[1] ?? null }];
      }
      break;
    case 99 /* c */:
      if (message === 'calling os-brick to detach iSCSI Volume') return [{ kind: 'nova.brick', what: 'disconnect' }];
      break;
    case 67 /* C */:
      if (message === 'Calling os-brick to attach iSCSI Volume') return [{ kind: 'nova.brick', what: 'connect' }];
      if ((m = CINDER_FAILED.exec(message))) return [{ kind: 'nova.cinder-failed', what: m[1] ?? '', detail: m[2] ?? '' }];
      break;
    case 100 /* d */:
      if (message.startsWith('detach device xml: ')) {
        const xml = message.slice(19);
        return [{ kind: 'libvirt.detach', target: XML_ATTR(xml, 'target', 'dev'), serial: /<serial>([^<]+)<\/serial>/.exec(xml)?.[1] ?? null }];
      }
      break;
  }
  if ((m = CINDER_FAILED.exec(message))) return [{ kind: 'nova.cinder-failed', what: m[1] ?? '', detail: m[2] ?? '' }];
  return [];
}
