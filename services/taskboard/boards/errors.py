from taskboard.core.errors import Conflict


class OwnerRequired(Conflict):
    type = "owner-required"
    title = "A board always has exactly one owner"
