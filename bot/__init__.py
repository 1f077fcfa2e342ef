"""supportbot core: domain types, storage, inbox/outbox, router, drafting, policy, app and CLI."""
