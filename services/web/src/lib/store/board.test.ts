import { describe, expect, it } from "vitest";
import { BoardState, type Snapshot, type Task } from "./board";

function task(id: string, status: string, position: string, title = id): Task {
  return {
    id,
    board_id: "b1",
    status,
    position,
    title,
    description: "",
    priority: "none",
    assignee_ids: [],
    labels: [],
    start_at: null,
    due_at: null,
    version: 1,
    created_at: "2026-12-03T00:00:00Z",
    updated_at: "2026-12-03T00:00:00Z",
    created_by: null,
    updated_by: null,
    deleted_at: null,
    comment_count: 0,
  } as Task;
}

function snapshot(seq: number, tasks: Task[] = []): Snapshot {
  return {
    id: "b1",
    name: "Board",
    description: "",
    role: "owner",
    seq,
    epoch: "e1",
    created_at: "2026-12-03T00:00:00Z",
    updated_at: "2026-12-03T00:00:00Z",
    archived_at: null,
    covers: {},
    columns: [
      { id: "c2", key: "done", name: "Done", position: "b", wip_limit: null },
      { id: "c1", key: "todo", name: "To do", position: "a", wip_limit: null },
    ],
    labels: [],
    members: [],
    tasks,
  } as Snapshot;
}

const created = (seq: number, t: Task) => ({ seq, event: "task.created", data: { task: t } });

describe("BoardState", () => {
  it("orders columns and tasks by position", () => {
    const state = new BoardState(snapshot(3, [task("x", "todo", "a1"), task("y", "todo", "a0")]));
    expect(state.columns.map((c) => c.key)).toEqual(["todo", "done"]);
    expect(state.column("todo").map((t) => t.id)).toEqual(["y", "x"]);
  });

  it("applies the next seq and moves the board's seq", () => {
    const state = new BoardState(snapshot(3));
    expect(state.apply(created(4, task("a", "todo", "a0")))).toBe("applied");
    expect(state.seq).toBe(4);
    expect(state.column("todo").map((t) => t.id)).toEqual(["a"]);
  });

  it("ignores events at or below its seq (duplicates and replays)", () => {
    const state = new BoardState(snapshot(3));
    state.apply(created(4, task("a", "todo", "a0", "first")));
    expect(state.apply(created(4, task("a", "todo", "a0", "again")))).toBe("duplicate");
    expect(state.apply(created(2, task("old", "todo", "a1")))).toBe("duplicate");
    expect(state.column("todo").map((t) => t.title)).toEqual(["first"]);
    expect(state.seq).toBe(4);
  });

  it("reports a gap without applying anything past it", () => {
    const state = new BoardState(snapshot(3));
    expect(state.apply(created(5, task("a", "todo", "a0")))).toBe("gap");
    expect(state.seq).toBe(3);
    expect(state.column("todo")).toEqual([]);
  });

  it("moves and deletes tasks by their events", () => {
    const state = new BoardState(snapshot(1, [task("a", "todo", "a0")]));
    state.apply({ seq: 2, event: "task.moved", data: { task: task("a", "done", "a0") } });
    expect(state.column("todo")).toEqual([]);
    expect(state.column("done").map((t) => t.id)).toEqual(["a"]);
    state.apply({ seq: 3, event: "task.deleted", data: { task: task("a", "done", "a0") } });
    expect(state.column("done")).toEqual([]);
  });

  it("shows a pending create at once and drops it when settled", () => {
    const state = new BoardState(snapshot(1));
    state.propose({
      key: "k1",
      taskId: "tmp-1",
      apply: (tasks) => tasks.set("tmp-1", task("tmp-1", "todo", "a0", "mine")),
    });
    expect(state.column("todo").map((t) => t.title)).toEqual(["mine"]);
    expect(state.isPending("tmp-1")).toBe(true);
    // Its event arrives: the real task is confirmed, the placeholder goes.
    state.apply(created(2, task("real", "todo", "a0", "mine")));
    state.settle("k1");
    expect(state.column("todo").map((t) => t.id)).toEqual(["real"]);
    expect(state.isPending("tmp-1")).toBe(false);
  });

  it("rolls a refused mutation back to the confirmed state", () => {
    const state = new BoardState(snapshot(1, [task("a", "todo", "a0")]));
    state.propose({
      key: "k2",
      taskId: "a",
      apply: (tasks) => tasks.set("a", { ...tasks.get("a")!, status: "done" }),
    });
    expect(state.column("done").map((t) => t.id)).toEqual(["a"]);
    state.settle("k2"); // the server said no
    expect(state.column("todo").map((t) => t.id)).toEqual(["a"]);
    expect(state.column("done")).toEqual([]);
  });

  it("places a move between its new neighbours, leaving the task itself out", () => {
    const state = new BoardState(
      snapshot(1, [task("a", "todo", "a0"), task("b", "todo", "a1"), task("c", "done", "a0")]),
    );
    // To the top of "done": before c.
    const top = state.placement("a", "done", 0);
    expect(top).toMatchObject({ status: "done", afterId: null, beforeId: "c" });
    expect(top.position < "a0").toBe(true);
    // Down one within its own column: after b, nothing below.
    const down = state.placement("a", "todo", 1);
    expect(down).toMatchObject({ status: "todo", afterId: "b", beforeId: null });
    expect(down.position > "a1").toBe(true);
    // An index past the end means the end.
    expect(state.placement("a", "done", 99)).toMatchObject({ afterId: "c", beforeId: null });
  });

  it("replaces a pending create by its own event, even before the response", () => {
    const state = new BoardState(snapshot(1), "me");
    const mine = (id: string, title: string, by: string | null) => ({
      ...task(id, "todo", "a0", title),
      created_by: by,
    });
    for (const key of ["k1", "k2"]) {
      state.propose({
        key,
        taskId: `tmp-${key}`,
        creates: { title: "Same", status: "todo" },
        apply: (tasks) => tasks.set(`tmp-${key}`, task(`tmp-${key}`, "todo", "z", "Same")),
      });
    }
    // A teammate's card of the same title is not ours: both placeholders stay.
    state.apply({ seq: 2, event: "task.created", data: { task: mine("theirs", "Same", "other") } });
    expect(state.column("todo")).toHaveLength(3);
    // Ours arrive: each takes the place of one placeholder, oldest first; never shown twice.
    state.apply({ seq: 3, event: "task.created", data: { task: mine("r1", "Same", "me") } });
    expect(state.column("todo").map((t) => t.id)).toEqual(["r1", "theirs", "tmp-k2"]);
    state.apply({ seq: 4, event: "task.created", data: { task: mine("r2", "Same", "me") } });
    expect(state.column("todo").map((t) => t.id).sort()).toEqual(["r1", "r2", "theirs"]);
    // The responses settle keys already gone: nothing changes.
    state.settle("k1");
    state.settle("k2");
    expect(state.column("todo")).toHaveLength(3);
  });

  it("keeps pending changes over a reloaded snapshot", () => {
    const state = new BoardState(snapshot(1, [task("a", "todo", "a0")]), "me");
    state.propose({
      key: "k",
      taskId: "a",
      apply: (tasks) => tasks.set("a", { ...tasks.get("a")!, status: "done" }),
    });
    const reloaded = state.rebased(snapshot(7, [task("a", "todo", "a0"), task("b", "todo", "a1")]));
    expect(reloaded.seq).toBe(7);
    expect(reloaded.column("done").map((t) => t.id)).toEqual(["a"]);
    expect(reloaded.column("todo").map((t) => t.id)).toEqual(["b"]);
    reloaded.settle("k");
    expect(reloaded.column("todo").map((t) => t.id)).toEqual(["a", "b"]);
  });

  it("keeps labels and members by their events, and says when it must ask for members", () => {
    const state = new BoardState(snapshot(1));
    state.apply({ seq: 2, event: "label.created", data: { id: "l1", name: "Bug", color: "#f00" } });
    expect(state.labels.get("l1")?.name).toBe("Bug");
    state.apply({ seq: 3, event: "label.updated", data: { id: "l1", name: "Defect", color: "#f00" } });
    expect(state.labels.get("l1")?.name).toBe("Defect");
    state.apply({ seq: 4, event: "label.deleted", data: { id: "l1" } });
    expect(state.labels.size).toBe(0);
    expect(state.membersStale).toBe(false);
    state.apply({ seq: 5, event: "member.added", data: { user_id: "u9", role: "member" } });
    expect(state.membersStale).toBe(true);
    state.setMembers([
      { user_id: "u9", display_name: "Nine", email: "n@x", role: "member", created_at: "" },
    ]);
    expect(state.membersStale).toBe(false);
    state.apply({ seq: 6, event: "member.updated", data: { user_id: "u9", role: "admin" } });
    expect(state.members.get("u9")?.role).toBe("admin");
    state.apply({ seq: 7, event: "member.removed", data: { user_id: "u9" } });
    expect(state.members.has("u9")).toBe(false);
  });

  it("counts comments by their events and follows archiving", () => {
    const state = new BoardState(snapshot(1, [task("a", "todo", "a0")]));
    state.apply({ seq: 2, event: "comment.created", data: { id: "c1", task_id: "a" } });
    state.apply({ seq: 3, event: "comment.created", data: { id: "c2", task_id: "a" } });
    state.apply({ seq: 4, event: "comment.updated", data: { id: "c2", task_id: "a" } });
    state.apply({ seq: 5, event: "comment.deleted", data: { id: "c1", task_id: "a" } });
    expect(state.tasks().get("a")?.comment_count).toBe(1);
    expect(state.archivedAt).toBeNull();
    state.apply({ seq: 6, event: "board.updated", data: { archived_at: "2026-12-03T10:00:00Z" } });
    expect(state.archivedAt).toBe("2026-12-03T10:00:00Z");
    state.apply({ seq: 7, event: "board.updated", data: { name: "Renamed" } });
    expect(state.archivedAt).toBe("2026-12-03T10:00:00Z");
    state.apply({ seq: 8, event: "board.updated", data: { archived_at: null } });
    expect(state.archivedAt).toBeNull();
  });

  it("keeps each card's cover image by attachment events", () => {
    const state = new BoardState({ ...snapshot(1), covers: { a: "f0" } });
    expect(state.covers.get("a")).toBe("f0");
    const file = (id: string, thumb: boolean) => ({ id, task_id: "a", has_thumbnail: thumb });
    state.apply({ seq: 2, event: "attachment.added", data: file("f1", false) });
    expect(state.covers.get("a")).toBe("f0"); // no thumbnail yet
    state.apply({ seq: 3, event: "attachment.updated", data: file("f1", true) });
    expect(state.covers.get("a")).toBe("f1");
    state.apply({ seq: 4, event: "attachment.removed", data: file("f0", true) });
    expect(state.covers.get("a")).toBe("f1"); // not the cover: unchanged
    state.apply({ seq: 5, event: "attachment.removed", data: file("f1", true) });
    expect(state.covers.has("a")).toBe(false);
  });

  it("follows the viewer's own role", () => {
    const state = new BoardState({ ...snapshot(1), role: "member" }, "me");
    state.setMembers([
      { user_id: "me", display_name: "Me", email: "m@x", role: "member", created_at: "" },
    ]);
    state.apply({ seq: 2, event: "member.updated", data: { user_id: "other", role: "admin" } });
    expect(state.role).toBe("member");
    state.apply({ seq: 3, event: "member.updated", data: { user_id: "me", role: "admin" } });
    expect(state.role).toBe("admin");
    expect(state.members.get("me")?.role).toBe("admin");
  });

  it("keeps columns in order by their events; a deleted column asks for a reload", () => {
    const state = new BoardState(snapshot(1));
    const column = (key: string, position: string, name = key) => ({
      id: `c-${key}`, key, name, position, wip_limit: null,
    });
    state.apply({ seq: 2, event: "column.created", data: column("review", "a5", "Review") });
    expect(state.columns.map((c) => c.key)).toEqual(["todo", "review", "done"]);
    state.apply({ seq: 3, event: "column.updated", data: { ...column("review", "a5"), wip_limit: 2 } });
    expect(state.columns.find((c) => c.key === "review")?.wip_limit).toBe(2);
    state.apply({ seq: 4, event: "column.moved", data: column("review", "0", "Review") });
    expect(state.columns.map((c) => c.key)).toEqual(["review", "todo", "done"]);
    const deleted = { seq: 5, event: "column.deleted", data: { key: "review", moved_tasks_to: "todo" } };
    expect(state.apply(deleted)).toBe("reload");
    expect(state.columns.map((c) => c.key)).toEqual(["todo", "done"]);
    expect(state.seq).toBe(5);
  });
});

