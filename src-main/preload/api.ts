import { IPC_CONTRACT, type IpcChannel, type RendererApi } from '../../src-shared/ipc.js';

/**
 * The renderer's whole API: one function per contract channel, each a single `invoke` (docs/design.md §12.3). No event
 * subscriptions, no raw ipcRenderer, no other methods. Frozen so page script cannot add or swap functions.
 */
export function buildRendererApi(invoke: (channel: IpcChannel, request: unknown) => Promise<unknown>): RendererApi {
  const api: Record<string, (request?: unknown) => Promise<unknown>> = {};
  for (const [channel, entry] of Object.entries(IPC_CONTRACT) as Array<
    [IpcChannel, (typeof IPC_CONTRACT)[IpcChannel]]
  >) {
    // The request is passed as given; the main process validates it, the preload adds nothing.
    api[entry.method] = (request?: unknown) => invoke(channel, request ?? {});
  }
  return Object.freeze(api) as unknown as RendererApi;
}
