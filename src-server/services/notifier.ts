import nodemailer from 'nodemailer';
import type { ServerContext } from '../context.js';
import type { Db, Queryable } from '../db/port.js';
import {
  claimNotification,
  insertNotification,
  pendingNotifications,
  releaseNotification,
  type OutboxRecord,
} from '../db/queries/notifications.js';
import { userEmail } from '../db/queries/users.js';

export const NOTIFICATION_KINDS = [
  'temporary-code-issued',
  'emergency-codes-issued',
  'offline-emergency-revealed',
  'token-enrolled',
  'token-deleted',
  'pin-set',
  'device-received-offline-data',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface Notification {
  userId: number;
  username: string;
  kind: NotificationKind;
  /** What the user should know (when, by whom, which device); never the code, PIN or seed itself. */
  details?: Record<string, string | number>;
}

const SUBJECTS: Record<NotificationKind, string> = {
  'temporary-code-issued': 'A temporary sign-in code was issued for your account',
  'emergency-codes-issued': 'Emergency sign-in codes were issued for your account',
  'offline-emergency-revealed': 'An offline emergency code was given out for your account',
  'token-enrolled': 'A new authenticator was enrolled for your account',
  'token-deleted': 'Your authenticator enrollment was deleted',
  'pin-set': 'Your PIN was set or changed',
  'device-received-offline-data': 'A device received offline sign-in data for your account',
};

interface Deliverer {
  kick(): void;
}
const deliverers = new WeakMap<Db, Deliverer>();

/**
 * Records a notification in the outbox, inside the caller's transaction so it exists exactly when the event does.
 * Delivery (SMTP, when configured) happens after the commit: the deliverer reads the outbox through the same
 * database, whose queue runs its reads only after the open transaction finished.
 */
export async function notifyUser(
  q: Queryable,
  ctx: Pick<ServerContext, 'clock' | 'db'>,
  n: Notification,
): Promise<void> {
  const email = await userEmail(q, n.userId);
  await insertNotification(q, {
    userId: n.userId,
    username: n.username,
    email,
    kind: n.kind,
    details: JSON.stringify(n.details ?? {}),
    createdAt: ctx.clock.now(),
  });
  deliverers.get(ctx.db)?.kick();
}

type OutboxRow = OutboxRecord & { kind: NotificationKind };

function messageText(row: OutboxRow): string {
  const details = Object.entries(JSON.parse(row.details) as Record<string, string | number>)
    .map(([k, v]) => `  ${k}: ${v}`)
    .join('\n');
  return [
    `Hello ${row.username},`,
    '',
    `${SUBJECTS[row.kind]} at ${new Date(row.createdAt).toISOString()}.`,
    details ? `\n${details}\n` : '',
    'If you did not ask your helpdesk for this, call them now.',
  ].join('\n');
}

/**
 * Sends outbox rows that have an address by SMTP. Each row is claimed with a guarded UPDATE before sending, so two
 * server instances never send the same message; a failed send releases the claim for the next round.
 */
export function startNotificationDelivery(
  ctx: ServerContext,
  options: { smtpUrl: string; from: string; intervalMs?: number },
): { stop: () => void; flush: () => Promise<void> } {
  const transport = nodemailer.createTransport(options.smtpUrl);
  let running: Promise<void> | undefined;
  let again = false;

  async function deliverAll(): Promise<void> {
    const pending = (await pendingNotifications(ctx.db)) as OutboxRow[];
    for (const row of pending) {
      if (!(await claimNotification(ctx.db, row.id, ctx.clock.now()))) continue;
      try {
        await transport.sendMail({
          from: options.from,
          to: row.email,
          subject: SUBJECTS[row.kind],
          text: messageText(row),
        });
      } catch (err) {
        await releaseNotification(ctx.db, row.id);
        ctx.log.warn(
          { component: 'notifier', notification: row.id, err: err instanceof Error ? err.message : String(err) },
          'notification not sent; will retry',
        );
      }
    }
  }

  function kick(): void {
    if (running) {
      again = true;
      return;
    }
    running = deliverAll()
      .catch((err: unknown) =>
        ctx.log.error({ component: 'notifier', err: String(err) }, 'notification delivery failed'),
      )
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  deliverers.set(ctx.db, { kick });
  const timer = setInterval(kick, options.intervalMs ?? 60_000);
  timer.unref();
  kick();
  return {
    stop: () => {
      clearInterval(timer);
      deliverers.delete(ctx.db);
      transport.close();
    },
    flush: async () => {
      while (running) await running;
    },
  };
}
