"""Debian's os-brick 6.1 on a real host: one Python process, os-brick imported once.

Run as root with /usr/bin/python3 inside the storage host guest (see
src/test-support/storage-host/ and test/storage-host/os-brick-guest.ts). Nothing is simulated:
the ISCSIConnector runs its real commands, sysfs reads and sleeps. oslo.privsep runs its
entrypoints in this process (we are root already; no privsep daemon, no sudo): the "plain" root
helper. Every command os-brick runs goes through oslo.concurrency's processutils.execute, which
is wrapped to count and record them.

Protocol: JSON lines. Once imported it prints {"t":"ready","importMs":N,"version":V}; then for
each request line
  {"op":"props","multipath":true}
  {"op":"connect","props":{...connection_info data...},"multipath":true}
  {"op":"connectMany","props":[{...}, ...],"multipath":true}     (one thread each, at once)
  {"op":"disconnect","props":{...},"device":{...},"multipath":true}
it answers {"ok":true|false,"ms":N,"commands":N,"trail":[...],"device"|"error":...}.
"""

import json
import os
import sys
import threading
import time

_out = sys.stdout
sys.stdout = sys.stderr  # nothing but protocol lines on the pipe
_lock = threading.Lock()
TRAIL = []


def send(msg):
    with _lock:
        _out.write(json.dumps(msg, separators=(',', ':'), default=str) + '\n')
        _out.flush()


def main():
    import logging
    logging.basicConfig(level=logging.DEBUG if os.environ.get('HITCH_OS_BRICK_DEBUG') else logging.WARNING,
                        stream=sys.stderr, format='%(asctime)s %(levelname)s %(name)s %(message)s')
    t0 = time.monotonic()
    from oslo_concurrency import processutils as putils
    real_execute = putils.execute

    def counting_execute(*cmd, **kwargs):
        start = time.monotonic()
        code = 0
        try:
            return real_execute(*cmd, **kwargs)
        except putils.ProcessExecutionError as e:
            code = e.exit_code
            raise
        finally:
            TRAIL.append('%s -> %s (%d ms)' % (' '.join(str(c) for c in cmd), code, (time.monotonic() - start) * 1000))
    putils.execute = counting_execute
    from os_brick import privileged
    privileged.default.set_client_mode(False)
    from os_brick.privileged import rootwrap
    rootwrap.putils.execute = counting_execute
    # os-brick's connect_volume takes an external (file) lock, as under Nova, whose
    # [oslo_concurrency] lock_path says where: without one oslo.concurrency refuses the lock.
    from oslo_concurrency import lockutils
    os.makedirs('/var/lib/hitch-os-brick/locks', exist_ok=True)
    lockutils.set_defaults(lock_path='/var/lib/hitch-os-brick/locks')
    from os_brick.initiator import connector as brick_connector
    from os_brick.initiator.connectors.iscsi import ISCSIConnector
    import importlib.metadata as md
    send({'t': 'ready', 'importMs': int((time.monotonic() - t0) * 1000), 'version': md.version('os-brick')})

    connectors = {}

    def conn_for(multipath):
        if multipath not in connectors:
            connectors[multipath] = ISCSIConnector('sudo', use_multipath=multipath, device_scan_attempts=3)
        return connectors[multipath]

    for line in sys.stdin:
        req = json.loads(line)
        del TRAIL[:]
        start = time.monotonic()
        out = {'ok': True}
        try:
            mp = bool(req.get('multipath', True))
            if req['op'] == 'props':
                out['props'] = brick_connector.get_connector_properties('sudo', '127.0.0.1', mp, False)
            elif req['op'] == 'connect':
                out['device'] = conn_for(mp).connect_volume(req['props'])
            elif req['op'] == 'connectMany':
                # Nova's concurrent attach requests: one thread each, all started at once.
                results = [None] * len(req['props'])

                def one(i):
                    t1 = time.monotonic()
                    try:
                        results[i] = {'ok': True, 'device': conn_for(mp).connect_volume(req['props'][i])}
                    except Exception as e:  # noqa: BLE001
                        results[i] = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
                    results[i]['ms'] = int((time.monotonic() - t1) * 1000)
                threads = [threading.Thread(target=one, args=(i,)) for i in range(len(req['props']))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                out['devices'] = results
            elif req['op'] == 'disconnect':
                conn_for(mp).disconnect_volume(req['props'], req.get('device') or {}, force=False, ignore_errors=False)
            else:
                raise ValueError('unknown op %s' % req['op'])
        except BaseException as e:  # noqa: BLE001 - every outcome is reported, the process goes on
            out = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
        out['ms'] = int((time.monotonic() - start) * 1000)
        out['commands'] = len(TRAIL)
        out['trail'] = list(TRAIL)
        send(out)


if __name__ == '__main__':
    main()
