"""Files attached to tasks: rows here, bytes in file storage (taskboard.storage)."""
