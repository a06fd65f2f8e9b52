/**
 * Notifications (runbook EMERGENCY-001 step 3, FM-002): the engine tells the team when
 * Lethe is paused or resumed (by an operator, the failure breaker or the blast-radius guard) and
 * when a run failed, finished degraded or did not complete. The engine only calls this port;
 * adapters (the webhook in ./webhook.ts) are built by the runtimes from their configuration.
 *
 * The contract that keeps runs safe: `notify` returns at once and never throws. Delivery happens
 * in the background, bounded in time; a receiver that is down costs a log line, never a run.
 */

export type NotificationKind =
  /** Lethe was paused (manually, or by the failure breaker or the blast-radius guard). */
  | 'paused'
  | 'resumed'
  /** A run ended `failed`. */
  | 'run_failed'
  /** A run completed with more failures than the degraded share (runbook FM-002: > 10%). */
  | 'run_degraded'
  /** A run stopped at a pause (recorded `paused`). */
  | 'run_paused'
  /** A run stopped before its end (a signal, or its process died and the next run found it). */
  | 'run_interrupted';

export type NotificationSeverity = 'info' | 'warning' | 'critical';

export interface Notification {
  readonly kind: NotificationKind;
  readonly severity: NotificationSeverity;
  /** One line for people (Slack's `text`), saying what happened and what to do. */
  readonly text: string;
  /** When it happened (ISO 8601). */
  readonly at: string;
  /** Structured fields (snake_case, as the audit rows): who, why, the run's id and counts. */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface Notifier {
  /** Queues a notification; returns at once and never throws. */
  notify(notification: Notification): void;
  /**
   * Waits for deliveries in flight, at most `timeoutMs`; those still going are then abandoned
   * (and logged). Short-lived processes call it before exiting; later notifications still go.
   */
  flush(timeoutMs: number): Promise<void>;
}

/** The default: nobody to tell. */
export const noopNotifier: Notifier = Object.freeze({
  notify: () => {},
  flush: async () => {},
});

/** Calls `notify` on a notifier that may misbehave, so a notifier bug can never fail its caller. */
export function safeNotify(notifier: Notifier | undefined, notification: Notification | null): void {
  if (!notifier || !notification) return;
  try {
    notifier.notify(notification);
  } catch {
    // The port says notify never throws; an adapter that does must not reach a run or a pause.
  }
}
