import type { App } from '../app.js';
import type { ServerContext } from '../context.js';
import { consoleRoutes } from '../console/routes.js';
import { healthRoutes } from './health.js';

/** Every route module, registered in one place. Each module exports `(app, ctx) => Promise<void>`. */
export async function registerRoutes(app: App, ctx: ServerContext): Promise<void> {
  await healthRoutes(app, ctx);
  await consoleRoutes(app, ctx);
}
