from taskboard.core.errors import Forbidden, NotFound


class BoardNotFound(NotFound):
    type = "board-not-found"
    title = "Board not found"


class RoleRequired(Forbidden):
    type = "role-required"
    title = "Your role on this board does not allow this"
