from taskboard.core.errors import NotFound


class ImportNotFound(NotFound):
    type = "import-not-found"
    title = "Import not found"
