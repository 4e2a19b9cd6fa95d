/** Time is injected so that expiry, lifecycle and autoscaling are testable without sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  private current: number;
  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

/** RFC 3339 with milliseconds, as Google's JSON APIs print timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
