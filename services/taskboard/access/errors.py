from taskboard.core.errors import Conflict, Forbidden, NotFound


class BoardNotFound(NotFound):
    type = "board-not-found"
    title = "Board not found"


class RoleRequired(Forbidden):
    type = "role-required"
    title = "Your role on this board does not allow this"


class BoardArchived(Conflict):
    type = "board-archived"
    title = "Board is archived"
