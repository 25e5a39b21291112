/** The agent protocol (docs/protocol.md): schemas and pure encoders shared by the server and the agent. */
export * from './common.js';
export * from './device-request.js';
export * from './enroll.js';
export * from './login.js';
export * from './bundle.js';
export * from './sync.js';
export * from './admin.js';
export * from './emergency-request.js';
