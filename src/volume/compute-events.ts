/**
 * What the block storage service tells compute: Nova's `os-server-external-events`. When an
 * attached volume grows (`os-extend` at 3.42+ on an `in-use` volume), Cinder sends, once the
 * backend has grown the LUN, one `volume-extended` event per server the volume is attached to:
 *
 *   POST {compute}/v2.1/os-server-external-events          (microversion 2.51 or later)
 *   {"events": [{"name": "volume-extended", "server_uuid": "<server>", "tag": "<volume id>"}]}
 *
 * and the compute host rescans its path to the LUN and resizes the guest's disk (libvirt
 * `blockresize`). Nova answers 200 with a status per event (`completed`, or `failed` with code
 * 404 for an unknown server, 422 for one not on a host); a failure does not undo the extend —
 * the volume keeps its new size, as in Cinder, and the event's outcome is only logged.
 *
 * `ComputeEvents` is that call as a port: `novaEventsClient` speaks it over HTTP to any Nova
 * (Hitch's own compute API included); a composition in one process may pass a direct call.
 */

/** One event, exactly as Nova's API takes it. */
export interface ServerExternalEvent {
  readonly name: 'volume-extended';
  readonly server_uuid: string;
  /** The volume's id. */
  readonly tag: string;
}

/** Nova's answer for one event. */
export interface ServerExternalEventResult extends ServerExternalEvent {
  readonly status: 'completed' | 'failed';
  /** 200, or 404 (no such server) / 422 (server not on a host). */
  readonly code: number;
}

export interface ComputeEvents {
  /** Send the events; resolves with Nova's per-event results, or rejects when Nova could not be asked. */
  send(events: readonly ServerExternalEvent[]): Promise<readonly ServerExternalEventResult[]>;
}

/** No compute to tell (block storage alone): every event is reported as not delivered. */
export const NO_COMPUTE_EVENTS: ComputeEvents = {
  send: async (events) => events.map((e) => ({ ...e, status: 'failed' as const, code: 503 })),
};

/** The events for a volume that grew while attached to `serverIds`. */
export function volumeExtendedEvents(volumeId: string, serverIds: readonly string[]): ServerExternalEvent[] {
  return [...new Set(serverIds)].map((server_uuid) => ({ name: 'volume-extended', server_uuid, tag: volumeId }));
}

export interface NovaEventsClientOptions {
  /** Nova's v2.1 endpoint, e.g. `http://127.0.0.1:8080/compute/v2.1`. */
  readonly computeUrl: string;
  /** A token allowed to send external events (an admin's: Cinder uses its service user). */
  readonly token: () => Promise<string>;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** `ComputeEvents` over Nova's REST API. */
export function novaEventsClient(opts: NovaEventsClientOptions): ComputeEvents {
  const f = opts.fetch ?? fetch;
  return {
    async send(events) {
      if (events.length === 0) return [];
      const res = await f(`${opts.computeUrl.replace(/\/+$/, '')}/os-server-external-events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'x-auth-token': await opts.token(),
          // volume-extended needs 2.51.
          'openstack-api-version': 'compute 2.51',
          'x-openstack-nova-api-version': '2.51',
        },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
      const text = await res.text();
      if (res.status !== 200 && res.status !== 207) throw new Error(`Nova answered ${res.status} to os-server-external-events: ${text.slice(0, 300)}`);
      const body = JSON.parse(text) as { events?: ServerExternalEventResult[] };
      return body.events ?? [];
    },
  };
}
