from taskboard.core.errors import NotFound, TaskboardError


class AttachmentNotFound(NotFound):
    type = "attachment-not-found"
    title = "Attachment not found"


class StorageUnavailable(TaskboardError):
    """No file storage is configured (TASKBOARD_STORAGE_URL unset)."""

    status = 503
    type = "storage-unavailable"
    title = "File storage is not configured"
