from taskboard.core.errors import Conflict


class OwnerRequired(Conflict):
    type = "owner-required"
    title = "A board always has exactly one owner"


class AlreadyMember(Conflict):
    type = "already-member"
    title = "Already a member of this board"
