/**
 * Python exceptions as oslo.log writes them. `LOG.exception` puts the traceback after the
 * message, each line behind its own header (oslo.log's `logging_exception_prefix`), so a
 * traceback is many records of one logger at one time; the last names the exception:
 *
 *   ERROR nova.compute.manager [instance: 1a8a00fb-94b6-4109-ae58-f44291626a46] Traceback (most recent call last):
 *   ERROR nova.compute.manager [instance: 1a8a00fb-94b6-4109-ae58-f44291626a46]   File "/usr/lib/python2.7/dist-packages/nova/compute/manager.py", line 4788, in _attach_volume
 *   ERROR nova.compute.manager [instance: 1a8a00fb-94b6-4109-ae58-f44291626a46] VolumeDeviceNotFound: Volume device not found at [u'/dev/disk/by-path/…'].
 *   ERROR oslo_messaging.rpc.server os_brick.exception.VolumeDeviceNotFound: Volume device not found at .
 *
 * Without the prefix (a handler that does not use oslo.log's formatter) the traceback is the
 * record's continuation lines; its last line is the exception all the same.
 */
import type { LogEvent } from '../events.ts';

const FRAME = /^(?:Traceback \(most recent call last\):|\s+File "|\s{4}\S|\s*\^+\s*$|During handling of the above exception|The above exception was the direct cause)/;
const EXC = /^((?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|NotFound|Failed|Failure|Timeout|Busy|Invalid\w*|Unavailable|Conflict)\w*)(?:: (.*))?$/s;

export function parseException(message: string, level: string): LogEvent[] {
  if (level !== 'ERROR' && level !== 'CRITICAL' && level !== 'TRACE') return [];
  const lines = message.split('\n');
  const first = lines[0] ?? '';
  if (lines.length > 1 && lines.some((l) => l.startsWith('Traceback (most recent call last):'))) {
    const last = [...lines].reverse().find((l) => l.trim() !== '' && !FRAME.test(l)) ?? '';
    const m = EXC.exec(last.trim());
    return m ? [{ kind: 'exception', summary: last.trim() }] : [{ kind: 'traceback' }];
  }
  if (FRAME.test(first)) return [{ kind: 'traceback' }];
  if (EXC.exec(first.trim())) return [{ kind: 'exception', summary: message.trim() }];
  return [];
}
