"""Boards in and out: the versioned board document (export, import), CSV and zip exports, the
Trello converter, and import jobs (validated and stored by the api, built by the worker)."""
