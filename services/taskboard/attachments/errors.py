from taskboard.core.errors import Conflict, NotFound, TaskboardError


class AttachmentNotFound(NotFound):
    type = "attachment-not-found"
    title = "Attachment not found"


class StorageUnavailable(TaskboardError):
    """No file storage is configured (TASKBOARD_STORAGE_URL unset)."""

    status = 503
    type = "storage-unavailable"
    title = "File storage is not configured"


class DirectUploadUnavailable(Conflict):
    type = "direct-upload-unavailable"
    title = "This store takes uploads through the api"


class UploadNotReceived(Conflict):
    type = "upload-not-received"
    title = "The file has not reached the store"
