// The board store: a snapshot, then the board's events applied strictly by seq, and the
// user's own mutations shown at once as pending until their event arrives (or they fail).
// Pure: no fetch, no socket, no DOM; the page wires those in, the unit tests drive it alone.
import { generateKeyBetween } from "fractional-indexing";
import type { components } from "../api/schema";

export type Snapshot = components["schemas"]["BoardSnapshot"];
export type Task = components["schemas"]["TaskRead"];
export type Column = components["schemas"]["ColumnRead"];
export type Member = components["schemas"]["MemberRead"];
export type Label = components["schemas"]["LabelRead"];

export interface BoardEvent {
  seq: number;
  event: string;
  data: Record<string, unknown>;
}

/** A mutation of ours not yet seen in the event log: shown as if done, undone if refused. */
export interface Pending {
  key: string; // the request's Idempotency-Key
  taskId: string; // the task it shows (a temporary id for a create)
  apply: (tasks: Map<string, Task>) => void;
  /** For a create: what its task will look like, so that its event (which may come before
   * the response) replaces the placeholder at once instead of showing the card twice. */
  creates?: { title: string; status: string };
}

/** `reload`: applied, but what it changed is not in the event (a deleted column's cards went
 * elsewhere): reload the snapshot. */
export type Applied = "applied" | "duplicate" | "gap" | "reload";

export interface Placement {
  status: string;
  afterId: string | null;
  beforeId: string | null;
  position: string;
}

export class BoardState {
  readonly id: string;
  name: string;
  role: Snapshot["role"];
  epoch: string;
  seq: number;
  /** Archived boards are read-only until unarchived. */
  archivedAt: string | null;
  columns: Column[];
  members = new Map<string, Member>();
  /** Each card's cover: the attachment whose thumbnail it shows. */
  covers = new Map<string, string>();
  labels = new Map<string, Label>();
  /** Set when a member event named someone this state knows nothing of: reload the members. */
  membersStale = false;
  private confirmed = new Map<string, Task>(); // what the log says
  private pending: Pending[] = [];

  /** `me`: the viewer's user id (their own creates are matched to their events). */
  constructor(
    snapshot: Snapshot,
    private readonly me: string | null = null,
  ) {
    this.id = snapshot.id;
    this.name = snapshot.name;
    this.role = snapshot.role;
    this.epoch = snapshot.epoch;
    this.seq = snapshot.seq;
    this.archivedAt = snapshot.archived_at;
    this.columns = [...snapshot.columns].sort(byPosition);
    for (const task of snapshot.tasks) this.confirmed.set(task.id, task);
    for (const member of snapshot.members) this.members.set(member.user_id, member);
    for (const label of snapshot.labels) this.labels.set(label.id, label);
    for (const [taskId, attachmentId] of Object.entries(snapshot.covers)) {
      this.covers.set(taskId, attachmentId);
    }
  }

  /** Apply one event: only the next seq is applied; an older one is a duplicate; a later one
   * means events were missed and the caller must reload the snapshot (`gap`). */
  apply(event: BoardEvent): Applied {
    if (event.seq <= this.seq) return "duplicate";
    if (event.seq !== this.seq + 1) return "gap";
    this.seq = event.seq;
    const task = event.data.task as Task | undefined;
    switch (event.event) {
      case "task.created":
        if (task) {
          this.confirmed.set(task.id, task);
          this.replacePlaceholder(task);
        }
        break;
      case "task.updated":
      case "task.moved":
      case "task.restored":
        if (task) this.confirmed.set(task.id, task);
        break;
      case "task.deleted":
        if (task) this.confirmed.delete(task.id);
        break;
      case "column.created":
      case "column.updated":
      case "column.moved": {
        const column = event.data as unknown as Column;
        this.columns = [...this.columns.filter((c) => c.key !== column.key), column].sort(
          byPosition,
        );
        break;
      }
      case "column.deleted":
        this.columns = this.columns.filter((c) => c.key !== event.data.key);
        return "reload";
      case "label.created":
      case "label.updated":
        this.labels.set(String(event.data.id), event.data as unknown as Label);
        break;
      case "label.deleted":
        this.labels.delete(String(event.data.id));
        break;
      case "member.added":
      case "member.updated": {
        const userId = String(event.data.user_id);
        const role = event.data.role as Member["role"];
        const known = this.members.get(userId);
        // A new object: views keyed by member see the change.
        if (known) this.members.set(userId, { ...known, role });
        else this.membersStale = true; // the event carries no name: ask for the list
        if (userId === this.me) this.role = role; // what the viewer may do changed
        break;
      }
      case "member.removed": {
        // Removing a member also unassigns them everywhere on the board, in the same event.
        const gone = String(event.data.user_id);
        this.members.delete(gone);
        for (const [id, t] of this.confirmed) {
          if (t.assignee_ids.includes(gone)) {
            this.confirmed.set(id, { ...t, assignee_ids: t.assignee_ids.filter((u) => u !== gone) });
          }
        }
        break;
      }
      case "board.updated":
        if (typeof event.data.name === "string") this.name = event.data.name;
        if ("archived_at" in event.data) this.archivedAt = (event.data.archived_at as string) ?? null;
        break;
      case "attachment.updated":
        // A thumbnail was made: the newest image with one is the card's cover.
        if (event.data.has_thumbnail && !event.data.deleted_at) {
          this.covers.set(String(event.data.task_id), String(event.data.id));
        }
        break;
      case "attachment.removed":
        if (this.covers.get(String(event.data.task_id)) === String(event.data.id)) {
          this.covers.delete(String(event.data.task_id));
        }
        break;
      case "comment.created":
      case "comment.deleted": {
        // The count lives on the task row; its own events carry it, comment events move it.
        const onTask = this.confirmed.get(String(event.data.task_id));
        const step = event.event === "comment.created" ? 1 : -1;
        if (onTask) {
          const count = Math.max(0, onTask.comment_count + step);
          this.confirmed.set(onTask.id, { ...onTask, comment_count: count });
        }
        break;
      }
      default:
        break; // comment edits and events of later kinds change nothing on the board
    }
    return "applied";
  }

  setMembers(members: Member[]): void {
    this.members = new Map(members.map((m) => [m.user_id, m]));
    this.membersStale = false;
  }

  /** A fresh snapshot (after a gap or a resync) under the same pending changes. */
  rebased(snapshot: Snapshot): BoardState {
    const next = new BoardState(snapshot, this.me);
    next.pending = [...this.pending];
    return next;
  }

  /** The oldest pending create of ours that `task` fulfils gives way to it. */
  private replacePlaceholder(task: Task): void {
    if (task.created_by !== this.me) return;
    const index = this.pending.findIndex(
      (p) => p.creates?.title === task.title && p.creates.status === task.status,
    );
    if (index >= 0) this.pending.splice(index, 1);
  }

  /** Show a mutation at once; `settle` removes it when its event arrived or it was refused. */
  propose(mutation: Pending): void {
    this.pending.push(mutation);
  }

  settle(key: string): void {
    this.pending = this.pending.filter((p) => p.key !== key);
  }

  /** The task as the event log last said it was (no pending change of ours on it). */
  confirmedTask(taskId: string): Task | undefined {
    return this.confirmed.get(taskId);
  }

  isPending(taskId: string): boolean {
    return this.pending.some((p) => p.taskId === taskId);
  }

  /** The tasks as the user sees them: confirmed, then every pending mutation in order. */
  tasks(): Map<string, Task> {
    const view = new Map(this.confirmed);
    for (const mutation of this.pending) mutation.apply(view);
    return view;
  }

  /** Where a task dropped at `index` of column `status` goes: its neighbours there (the task
   * itself left out) as the API's `after_id`/`before_id`, and the position to show meanwhile. */
  placement(taskId: string, status: string, index: number): Placement {
    const others = this.column(status).filter((t) => t.id !== taskId);
    const at = Math.max(0, Math.min(index, others.length));
    const after = others[at - 1];
    const before = others[at];
    let position: string;
    try {
      position = generateKeyBetween(after?.position ?? null, before?.position ?? null);
    } catch {
      position = `${after?.position ?? ""}~`; // keys the library did not make: still after
    }
    return { status, afterId: after?.id ?? null, beforeId: before?.id ?? null, position };
  }

  /** One column's live tasks in board order. */
  column(key: string): Task[] {
    return [...this.tasks().values()]
      .filter((t) => t.status === key && !t.deleted_at)
      .sort(byPosition);
  }
}

function byPosition(a: { position: string; id: string }, b: { position: string; id: string }) {
  // Fractional-index keys compare as plain strings (code-unit order), never by locale.
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
