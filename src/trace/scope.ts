/**
 * The span a call runs under, carried through async calls that take no span parameter.
 *
 * The compute service calls the in-process block storage service (`compute/volume-protocol.ts`)
 * inside a `block-storage PUT /v3/attachments/{id}` span; the service's own signature is the
 * REST API's and has no span. Its backend reads the span here and records its export as a
 * child, so the seed's 7 s call shows where its time went (the array's export, not the API).
 * Over HTTP (scale-out, a real Cinder) nothing is in scope on the far side: no spans, as with
 * any remote service.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Span } from '../ports/span.ts';

const scope = new AsyncLocalStorage<Span>();

/** Run `fn` with `span` as the span in scope for everything it calls. */
export function withSpanScope<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  return scope.run(span, fn);
}

/** The span in scope, if a caller set one. */
export function spanInScope(): Span | undefined {
  return scope.getStore();
}
