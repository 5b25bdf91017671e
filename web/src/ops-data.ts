/** The operation history (`/compute/v2.1/os-hitch-operations`) as the pages read it. */
import type { ApiOperation } from '../../src/cli/resources.ts';
import { api } from './api.ts';
import type { PageQuery } from './list.ts';

export interface OperationSummary {
  id: string;
  kind: string;
  server_id: string;
  volume_id: string;
  request_id: string;
  state: string;
  step: string | null;
  error: { code: string; message: string } | null;
  started_ms: number;
  ended_ms: number | null;
  duration_ms: number | null;
  created_at: string;
}

/** A page of operations, newest first; `filter` is the status (running, done, failed). */
export async function operationPage(q: PageQuery, scope: { serverId?: string; volumeId?: string } = {}): Promise<OperationSummary[]> {
  const p = new URLSearchParams({ limit: String(q.limit) });
  if (q.filter) p.set('status', q.filter);
  if (q.marker) p.set('marker', q.marker);
  if (scope.serverId) p.set('server_id', scope.serverId);
  if (scope.volumeId) p.set('volume_id', scope.volumeId);
  return (await api<{ operations: OperationSummary[] }>('GET', `/compute/v2.1/os-hitch-operations?${p.toString()}`)).body.operations;
}

export const getOperation = async (id: string): Promise<ApiOperation> => (await api<{ operation: ApiOperation }>('GET', `/compute/v2.1/os-hitch-operations/${id}`)).body.operation;
