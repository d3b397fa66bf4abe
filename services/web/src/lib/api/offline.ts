// Changes made while the network is gone wait here, in order, and are sent when it is back.
// Each keeps its Idempotency-Key (or If-Match), so one that did reach the server before the
// connection dropped is answered from the server's record instead of being applied twice.

export interface Waiting {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Listener = (waiting: number) => void;

export class Outbox {
  private queue: Waiting[] = [];
  private draining = false;
  private listeners = new Set<Listener>();

  get size(): number {
    return this.queue.length;
  }

  /** Queue `run`; the promise settles when it finally ran (or was refused). */
  hold<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.notify();
    });
  }

  /** Send what waits, oldest first, one at a time; stops (keeping the rest) if the network
   * fails again. `offline(error)` says whether an error means "still no network". */
  async drain(offline: (error: unknown) => boolean): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const next = this.queue[0];
        try {
          next.resolve(await next.run());
        } catch (error) {
          if (offline(error)) return;
          next.reject(error);
        }
        this.queue.shift();
        this.notify();
      }
    } finally {
      this.draining = false;
    }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.queue.length);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.queue.length);
  }
}
