"""The engine's floor: the rules every use case shares, each in one named module.

It imports only `labelloop.store`, `labelloop.exceptions` and `labelloop.strategies`;
the use cases above it (`labelloop.engine.*`) import the floor and the store, never
each other.
"""
