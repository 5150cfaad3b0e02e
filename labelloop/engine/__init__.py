"""The service's use cases: each function owns its transaction and writes the audit event.

The CLI, the HTTP server and the `Workspace` Python API all call these functions;
none of them holds business rules of its own.
"""
