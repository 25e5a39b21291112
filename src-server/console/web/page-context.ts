import type { UserOptions } from '../schemas.js';
import type { Me } from './session.js';
import type { AdminUser } from './types.js';

/**
 * What the router (main.ts) gives every page, in a module of its own so that pages depend on it and not on the
 * router that imports them.
 */
export interface PageContext {
  me: Me;
  main: HTMLElement;
  navigate(hash: string): void;
}

/** A user's page and the sections it is made of (temporary code, emergency codes). */
export interface UserPageContext extends PageContext {
  user: AdminUser;
  options: UserOptions;
  /** Reloads the page from the server after a change. */
  reload(message?: string): Promise<void>;
}
