import type { IpcMain } from 'electron';
import { dispatchIpc, IPC_CHANNELS, ipcFailure, type AgentApi } from '../../src-shared/ipc.js';
import { isTrustedSender } from './security.js';

/**
 * One `ipcMain.handle` per contract channel, nothing else. Every message is checked twice at the door: the sender
 * must be the top frame of app://lifeline, and the payload must match the channel's request schema (dispatchIpc).
 * Answers are data; nothing is thrown across IPC.
 */
export function registerIpcHandlers(ipcMain: Pick<IpcMain, 'handle'>, api: AgentApi): void {
  for (const channel of IPC_CHANNELS) {
    ipcMain.handle(channel, async (event, payload: unknown) => {
      if (!isTrustedSender(event)) return ipcFailure('forbidden', 'This window may not talk to the agent.');
      return dispatchIpc(api, channel, payload);
    });
  }
}
