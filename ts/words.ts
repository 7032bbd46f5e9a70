/**
 * Small helpers for the words of messages, shared by the CLI, the
 * server and the dashboard.
 */

/**
 * A count with its noun, singular for one.
 *
 * @example
 * plural(1, "event"); // "1 event"
 * plural(3, "event"); // "3 events"
 */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
