// One socket to /ws for the open board: authenticated by the session cookie, subscribed with
// the seq the page already holds, and reconnected (resuming from that seq) when it drops.
import { refreshSession } from "./api/client";
import type { BoardEvent } from "./store/board";

export interface LiveHandlers {
  since: () => { seq: number; epoch: string };
  event: (event: BoardEvent) => void;
  resync: () => void; // reload the snapshot: what was missed is not replayed
  presence: (users: string[]) => void;
  closed: (reason: string) => void; // the board is gone for this user: stop
  status: (online: boolean) => void;
}

export class LiveBoard {
  private socket: WebSocket | null = null;
  private stopped = false;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly boardId: string,
    private readonly on: LiveHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    addEventListener("online", this.reconnectNow);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    removeEventListener("online", this.reconnectNow);
    clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** Back online: no need to wait out the backoff. */
  private readonly reconnectNow = (): void => {
    if (this.stopped || this.socket?.readyState === WebSocket.OPEN) return;
    clearTimeout(this.timer);
    this.retry = 0;
    this.connect();
  };

  private connect(): void {
    this.socket?.close();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(JSON.parse(message.data as string));
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.on.status(false);
      if (this.stopped) return;
      if (close.code === 4003) {
        this.on.closed("Your session ended. Sign in again.");
        return;
      }
      if (close.code === 4001 || close.code === 4004) {
        // The access token expired: renew it (the cookie), then resume where we were.
        void refreshSession().then((renewed) =>
          renewed ? this.connect() : this.on.closed("Your session ended. Sign in again."),
        );
        return;
      }
      // Back off, with jitter, so a restarted pod is not met by every client at once.
      const delay = Math.min(10_000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private receive(frame: Record<string, unknown>): void {
    switch (frame.type) {
      case "authenticated": {
        this.retry = 0;
        this.on.status(true);
        const { seq, epoch } = this.on.since();
        this.send({ type: "subscribe", board_id: this.boardId, since: seq, epoch });
        break;
      }
      case "event":
        this.on.event({
          seq: frame.seq as number,
          event: frame.event as string,
          data: frame.data as Record<string, unknown>,
        });
        break;
      case "resync":
        this.on.resync();
        break;
      case "presence":
        this.on.presence(frame.users as string[]);
        break;
      case "unsubscribed":
        if (frame.reason !== "requested") {
          this.stopped = true;
          this.on.closed(
            frame.reason === "removed"
              ? "You were removed from this board."
              : "This board was deleted.",
          );
        }
        break;
      case "error":
        if (frame.code === "not_found") {
          this.stopped = true;
          this.on.closed("This board does not exist or you cannot see it.");
        }
        break;
      default:
        break;
    }
  }

  private send(message: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify(message));
  }
}
