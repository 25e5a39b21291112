import { contextBridge, ipcRenderer } from 'electron';
import { buildRendererApi } from './api.js';

// Runs sandboxed with context isolation: only `window.lifeline` crosses into the page, never ipcRenderer itself.
contextBridge.exposeInMainWorld(
  'lifeline',
  buildRendererApi((channel, request) => ipcRenderer.invoke(channel, request)),
);
