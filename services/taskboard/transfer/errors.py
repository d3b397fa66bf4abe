from taskboard.core.errors import NotFound, TaskboardError


class ImportNotFound(NotFound):
    type = "import-not-found"
    title = "Import not found"


class ExportStorageUnavailable(TaskboardError):
    """The board has files but no file storage is configured to read them from."""

    status = 503
    type = "storage-unavailable"
    title = "File storage is not configured"
