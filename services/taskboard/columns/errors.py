from taskboard.core.errors import Conflict, NotFound


class ColumnNotFound(NotFound):
    type = "column-not-found"
    title = "Column not found"


class ColumnKeyTaken(Conflict):
    type = "column-key-taken"
    title = "A column with this key already exists on the board"


class ColumnNotEmpty(Conflict):
    type = "column-not-empty"
    title = "The column still holds tasks"


class WipLimitExceeded(Conflict):
    type = "wip-limit-exceeded"
    title = "The column's work-in-progress limit is reached"
