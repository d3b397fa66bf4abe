"""taskboard_key_after and taskboard_create_task: a task create in one round trip

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# fractional_indexing.generate_key_between(a, None) (taskboard.core.ordering.key_between(a,
# None)), for the create in one round trip: NULL -> 'a0'; otherwise the integer part of `a`
# incremented (its fraction dropped), exactly as that library does. NULL wherever the library
# would do something else: `a` is not a valid key (it raises), or the integer part is already
# the largest ('zzz...': it would call midpoint()); the caller then falls back to Python.
# tests/test_create_function.py holds it to the library on thousands of keys.
KEY_AFTER = r"""
CREATE FUNCTION taskboard_key_after(a text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    head integer;
    n integer;  -- length of the integer part, head included
    p integer;
    d integer;
BEGIN
    IF a IS NULL THEN
        RETURN 'a0';
    END IF;
    IF a = '' OR a = 'A' || repeat('0', 26) THEN
        RETURN NULL;
    END IF;
    head := ascii(a);
    IF head BETWEEN 97 AND 122 THEN      -- 'a'..'z': 2..27 characters
        n := head - 97 + 2;
    ELSIF head BETWEEN 65 AND 90 THEN    -- 'A'..'Z': 27..2 characters
        n := 90 - head + 2;
    ELSE
        RETURN NULL;
    END IF;
    IF length(a) < n OR (length(a) > n AND right(a, 1) = '0') THEN
        RETURN NULL;  -- too short, or a fraction with a trailing zero
    END IF;
    -- The last digit that is not 'z' goes up by one; the 'z's after it become '0'.
    p := n;
    WHILE p >= 2 LOOP
        d := strpos(digits, substr(a, p, 1)) - 1;
        IF d < 0 THEN
            RETURN NULL;  -- not a base-62 digit (the library raises)
        END IF;
        IF d < 61 THEN
            RETURN substr(a, 1, p - 1) || substr(digits, d + 2, 1) || repeat('0', n - p);
        END IF;
        p := p - 1;
    END LOOP;
    -- Every digit carried: the head moves on, and the integer part grows or shrinks by one.
    IF head = 90 THEN        -- 'Z...' -> 'a0'
        RETURN 'a0';
    ELSIF head = 122 THEN    -- 'z...' is the largest integer: the library would need midpoint()
        RETURN NULL;
    ELSIF head >= 97 THEN    -- 'a'..'y': one digit more
        RETURN chr(head + 1) || repeat('0', n);
    END IF;
    RETURN chr(head + 1) || repeat('0', n - 2);  -- 'A'..'Y': one digit fewer
END
$$
"""

# The whole create of tasks.service.create as one statement (one round trip, and its own
# transaction when the caller has none). It locks and reads exactly what the create checks,
# refuses by writing nothing and returning what it read (Python then raises the very error
# its own checks raise, on those values: one source of the rules), and otherwise writes the
# task, its links, the board's seq and task_count, and the event, as the statements before
# it did. Which roles may write and the task quota are the caller's, passed in.
CREATE_TASK = r"""
CREATE FUNCTION taskboard_create_task(
    p_board uuid, p_user uuid, p_status text, p_writers text[], p_quota bigint,
    p_id uuid, p_title text, p_description text, p_priority text,
    p_start_at timestamptz, p_due_at timestamptz, p_now timestamptz,
    p_assignees uuid[], p_labels uuid[], p_data jsonb, p_trace text
) RETURNS TABLE (
    r_role text, r_archived boolean, r_column text, r_wip_limit integer, r_task_count bigint,
    r_live bigint, r_members uuid[], r_known uuid[],
    r_position text, r_seq bigint, r_created_at timestamptz
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_fresh boolean;  -- nobody wrote to the board between the snapshot and the lock
    v_last text;
BEGIN
    -- Lock the board (every write to it waits here) and read the caller's role, whether the
    -- board is archived, the target column (p_status, or the first), the task count, and the
    -- column's tail as of this statement's snapshot.
    SELECT m.role, b.archived_at IS NOT NULL, col.key, col.wip_limit, b.task_count,
           b.last_seq = seen.last_seq, tail.last, tail.live
    INTO r_role, r_archived, r_column, r_wip_limit, r_task_count, v_fresh, v_last, r_live
    FROM board_members m
    JOIN boards b ON b.id = m.board_id
    JOIN boards seen ON seen.id = b.id
    LEFT JOIN LATERAL (
        SELECT c.key, c.wip_limit FROM board_columns c
        WHERE c.board_id = b.id AND (p_status IS NULL OR c.key = p_status)
        ORDER BY c.position
        LIMIT 1
    ) col ON true
    LEFT JOIN LATERAL (
        SELECT max(t.position) AS last, count(*) AS live FROM tasks t
        WHERE t.board_id = b.id AND t.status = col.key AND t.deleted_at IS NULL
    ) tail ON true
    WHERE m.board_id = p_board AND m.user_id = p_user
    FOR NO KEY UPDATE OF b;
    IF NOT FOUND THEN
        RETURN;  -- not a member: no row
    END IF;
    IF r_role <> ALL (p_writers) OR r_archived OR r_task_count >= p_quota
       OR r_column IS NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;
    -- The tail above is from the snapshot the lock's statement started with. The locked row
    -- is the latest version (PostgreSQL rechecks a row once its lock is granted), `seen` the
    -- snapshot's; every write that changes a board's tasks bumps its seq, so when they differ
    -- another writer committed in between (we may have waited for its lock) and its task may
    -- be missing. Read the tail again then: this function is VOLATILE and runs in READ
    -- COMMITTED, so each of its statements takes a fresh snapshot, which includes every
    -- writer that held the lock before us (tests/api/test_create_path.py).
    IF NOT v_fresh THEN
        SELECT max(t.position), count(*) INTO v_last, r_live FROM tasks t
        WHERE t.board_id = p_board AND t.status = r_column AND t.deleted_at IS NULL;
    END IF;
    IF r_wip_limit IS NOT NULL AND r_live + 1 > r_wip_limit THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF cardinality(p_assignees) > 0 THEN
        SELECT coalesce(array_agg(m.user_id), '{}') INTO r_members FROM board_members m
        WHERE m.board_id = p_board AND m.user_id = ANY (p_assignees);
        IF EXISTS (SELECT FROM unnest(p_assignees) a WHERE a <> ALL (r_members)) THEN
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    IF cardinality(p_labels) > 0 THEN
        SELECT coalesce(array_agg(l.id), '{}') INTO r_known FROM labels l
        WHERE l.board_id = p_board AND l.id = ANY (p_labels);
        IF EXISTS (SELECT FROM unnest(p_labels) l WHERE l <> ALL (r_known)) THEN
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    v_last := taskboard_key_after(v_last);
    IF v_last IS NULL THEN
        RETURN NEXT;  -- no key here (see taskboard_key_after): the caller falls back
        RETURN;
    END IF;
    WITH new_task AS (
        INSERT INTO tasks (id, board_id, status, position, title, description, priority,
                           start_at, due_at, created_by, updated_by, created_at, updated_at,
                           deleted_at, version, comment_count)
        VALUES (p_id, p_board, r_column, v_last, p_title, p_description, p_priority,
                p_start_at, p_due_at, p_user, p_user, p_now, p_now, NULL, 1, 0)
    ),
    new_assignees AS (
        INSERT INTO task_assignees (task_id, user_id) SELECT p_id, unnest(p_assignees)
    ),
    new_labels AS (
        INSERT INTO task_labels (task_id, label_id) SELECT p_id, unnest(p_labels)
    ),
    bumped AS (
        UPDATE boards SET last_seq = last_seq + 1, updated_at = now(),
                          task_count = task_count + 1
        WHERE id = p_board RETURNING last_seq
    )
    INSERT INTO board_events AS e (board_id, seq, type, data, actor_id, created_at,
                                   trace_context)
    SELECT p_board, bumped.last_seq, 'task.created',
           jsonb_set(jsonb_set(p_data, '{task,status}', to_jsonb(r_column)),
                     '{task,position}', to_jsonb(v_last)),
           p_user, clock_timestamp(), p_trace
    FROM bumped
    RETURNING e.seq, e.created_at INTO r_seq, r_created_at;
    r_position := v_last;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    # New functions only: code that does not call them works as before (expand-only).
    op.execute(KEY_AFTER)
    op.execute(CREATE_TASK)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION taskboard_create_task(uuid, uuid, text, text[], bigint, uuid, text, "
        "text, text, timestamptz, timestamptz, timestamptz, uuid[], uuid[], jsonb, text)"
    )
    op.execute("DROP FUNCTION taskboard_key_after(text)")
