from taskboard.core.errors import Conflict


class EmailTaken(Conflict):
    type = "email-taken"
    title = "Email already registered"
