// One socket to /ws per page, as the protocol intends: authenticated by the session cookie,
// carrying the open board's subscription (resumed from the seq the page holds) and the user's
// notifications, reconnected with backoff when it drops and at once when the browser is back.
import { refreshSession } from "./api/client";
import type { components } from "./api/schema";
import type { BoardEvent } from "./store/board";

export type Notification = components["schemas"]["NotificationRead"];
export type ImportJob = components["schemas"]["ImportJobRead"];

export interface BoardHandlers {
  since: () => { seq: number; epoch: string };
  event: (event: BoardEvent) => void;
  resync: () => void; // reload the snapshot: what was missed is not replayed
  presence: (users: string[]) => void;
  closed: (reason: string) => void; // the board is gone for this user
}

export interface LiveHandlers {
  notification: (notification: Notification) => void;
  status: (online: boolean) => void;
  ended: () => void; // the session is over: sign in again
}

export class Live {
  private socket: WebSocket | null = null;
  private stopped = true;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private boards = new Map<string, BoardHandlers>();
  private importWatchers = new Set<(job: ImportJob) => void>();

  constructor(private readonly on: LiveHandlers) {}

  /** Hear the user's board imports move (every socket of theirs gets them); stop with the
   * function returned. */
  watchImports(watcher: (job: ImportJob) => void): () => void {
    this.importWatchers.add(watcher);
    return () => this.importWatchers.delete(watcher);
  }

  start(): void {
    if (!this.stopped) return;
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

  /** Receive a board's events from the seq `handlers.since()` gives (now, and after every
   * reconnect). */
  subscribe(boardId: string, handlers: BoardHandlers): void {
    this.boards.set(boardId, handlers);
    if (this.ready) this.sendSubscribe(boardId, handlers);
  }

  unsubscribe(boardId: string): void {
    if (this.boards.delete(boardId) && this.ready) {
      this.send({ type: "unsubscribe", board_id: boardId });
    }
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
    this.ready = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(JSON.parse(message.data as string));
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.ready = false;
      this.on.status(false);
      if (this.stopped) return;
      if (close.code === 4003) {
        this.stopped = true;
        this.on.ended();
        return;
      }
      if (close.code === 4001 || close.code === 4004) {
        // The access token expired: renew it (the cookie), then resume where we were.
        void refreshSession().then((renewed) => {
          if (renewed) this.connect();
          else {
            this.stopped = true;
            this.on.ended();
          }
        });
        return;
      }
      // Back off, with jitter, so a restarted pod is not met by every client at once.
      const delay = Math.min(10_000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private sendSubscribe(boardId: string, handlers: BoardHandlers): void {
    const { seq, epoch } = handlers.since();
    this.send({ type: "subscribe", board_id: boardId, since: seq, epoch });
  }

  private receive(frame: Record<string, unknown>): void {
    const board = typeof frame.board_id === "string" ? this.boards.get(frame.board_id) : undefined;
    switch (frame.type) {
      case "authenticated":
        this.retry = 0;
        this.ready = true;
        this.on.status(true);
        for (const [boardId, handlers] of this.boards) this.sendSubscribe(boardId, handlers);
        break;
      case "notification":
        this.on.notification(frame.notification as Notification);
        break;
      case "import_job":
        for (const watcher of this.importWatchers) watcher(frame.job as ImportJob);
        break;
      case "event":
        board?.event({
          seq: frame.seq as number,
          event: frame.event as string,
          data: frame.data as Record<string, unknown>,
        });
        break;
      case "resync":
        board?.resync();
        break;
      case "presence":
        board?.presence(frame.users as string[]);
        break;
      case "unsubscribed":
        if (board && frame.reason !== "requested") {
          this.boards.delete(frame.board_id as string);
          board.closed(
            frame.reason === "removed"
              ? "You were removed from this board."
              : "This board was deleted.",
          );
        }
        break;
      case "error":
        if (board && frame.code === "not_found") {
          this.boards.delete(frame.board_id as string);
          board.closed("This board does not exist or you cannot see it.");
        }
        break;
      default:
        break;
    }
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
