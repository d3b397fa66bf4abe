from taskboard.core.errors import Conflict, NotFound, PreconditionFailed


class TaskNotFound(NotFound):
    type = "task-not-found"
    title = "Task not found"


class TaskDeleted(Conflict):
    type = "task-deleted"
    title = "The task is deleted; restore it first"


class StaleVersion(PreconditionFailed):
    type = "stale-version"
    title = "The task changed since you read it"
