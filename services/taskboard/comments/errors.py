from taskboard.core.errors import Forbidden, NotFound


class CommentNotFound(NotFound):
    type = "comment-not-found"
    title = "Comment not found"


class NotAuthor(Forbidden):
    type = "not-author"
    title = "Only the comment's author can do this"
