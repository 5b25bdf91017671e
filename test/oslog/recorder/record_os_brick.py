"""Drive Debian's os-brick 6.1 the way nova-compute does, and let it log as nova-compute logs.

Run by /usr/bin/python3 (it sees python3-os-brick) as root, inside the storage host guest:

    python3 record_os_brick.py JOB.json

The job names the log file and a list of calls. Each call runs in its own thread with its own
request context (oslo.context's RequestContext, as nova-compute has one per RPC request), so
os-brick's lines carry `[None req-… …]` like Nova's do; commands run through a real privsep
daemon (`privsep-helper`, as root here instead of through sudo) whose lines come back relayed,
with its pid and no context, exactly as in nova-compute's log. Logging is oslo.log's, with
nova's project name and `debug = True`; every line in the log file is printed by os-brick,
oslo.concurrency, oslo.privsep or oslo.log themselves: this script writes none.

Job:
    {"log": "/hitch/out/seed.log", "workdir": "/tmp/rec", "multipath": true,
     "calls": [{"id": "a", "op": "connect", "props": {...connection_properties...}},
               {"id": "a", "op": "disconnect", "after": "a"},
               ...],
     "parallel": false}
`op`: connect (get_connector_properties unless "connector_properties": false, then
connect_volume, like Nova's attach), disconnect
(disconnect_volume with what connect returned). With "parallel": true all calls start together
(two attaches on one host: the second waits for os-brick's connect_volume lock).
The result (what each call returned or raised) is written next to the log as JSON.
"""
import json
import os
import sys
import threading
import time
import traceback

job = json.load(open(sys.argv[1]))
workdir = job.get('workdir', '/tmp/hitch-oslog')
os.makedirs(os.path.join(workdir, 'locks'), exist_ok=True)

# A config file, so the privsep daemon (started with --config-file) logs at DEBUG too, as a
# nova-compute with debug = True makes it do.
conf_path = os.path.join(workdir, 'nova.conf')
with open(conf_path, 'w') as f:
    f.write('[DEFAULT]\ndebug = True\n')
    f.write('[oslo_concurrency]\nlock_path = %s\n' % os.path.join(workdir, 'locks'))
    f.write('[privsep_osbrick]\nhelper_command = privsep-helper --config-file %s\n' % conf_path)

from oslo_config import cfg  # noqa: E402
from oslo_context import context  # noqa: E402
from oslo_log import log as logging  # noqa: E402

CONF = cfg.CONF
logging.register_options(CONF)
CONF(['--config-file', conf_path], project='nova', default_config_files=[])
CONF.set_override('log_file', job['log'])
CONF.set_override('use_stderr', False)
logging.setup(CONF, 'nova')

import os_brick  # noqa: E402
from os_brick.initiator import connector  # noqa: E402

os_brick.setup(CONF)

multipath = bool(job.get('multipath', True))
iscsi = connector.InitiatorConnector.factory(
    'ISCSI', 'sudo nova-rootwrap /etc/nova/rootwrap.conf',
    use_multipath=multipath, device_scan_attempts=job.get('scan_attempts', 5))

results = {}
results_lock = threading.Lock()


def run(call):
    ctx = context.RequestContext(user_id=job.get('user', 'd599e3a44889417a9ef1c35ae66e2124'),
                                 project_id=job.get('project', '19704c1384b44092ba44ced60fe23da1'))
    ctx.update_store()
    out = {'request_id': ctx.request_id, 'start': time.time()}
    try:
        if call['op'] == 'connect' and job.get('connector_properties', True):
            connector.get_connector_properties(
                'sudo nova-rootwrap /etc/nova/rootwrap.conf', job.get('my_ip', '127.0.0.1'),
                multipath, enforce_multipath=job.get('enforce_multipath', True), host=job.get('host', 'compute-1'))
        if call['op'] == 'connect':
            out['device'] = iscsi.connect_volume(call['props'])
        elif call['op'] == 'disconnect':
            with results_lock:
                device = results.get(call['after'], {}).get('device')
            iscsi.disconnect_volume(call['props'], device, force=call.get('force', False))
            out['device'] = None
        out['ok'] = True
    except Exception as e:
        out['ok'] = False
        out['error'] = '%s: %s' % (type(e).__name__, e)
        out['traceback'] = traceback.format_exc()
    out['end'] = time.time()
    with results_lock:
        results[call['id'] if call['op'] == 'connect' else call['id'] + ':disconnect'] = out


calls = job['calls']
if job.get('parallel'):
    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(job.get('stagger', 0.5))
    for t in threads:
        t.join()
else:
    for c in calls:
        run(c)

with open(os.path.splitext(job['log'])[0] + '.result.json', 'w') as f:
    json.dump(results, f, indent=2, default=str)
