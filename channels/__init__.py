"""Channel adapters: each turns its raw input into an ``Inbound`` and sends replies back."""
