from taskboard.core.errors import Conflict, NotFound


class LabelNotFound(NotFound):
    type = "label-not-found"
    title = "Label not found"


class LabelNameTaken(Conflict):
    type = "label-name-taken"
    title = "A label with this name already exists on the board"
