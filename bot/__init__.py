"""supportbot core: domain types, storage, inbox/outbox, router, drafting, policy, app and CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("supportbot")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
