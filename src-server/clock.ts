// The server's clock port is the shared one (src-shared/clock.ts); this module keeps the server's import path.
export { ManualClock, systemClock, type Clock } from '../src-shared/clock.js';
