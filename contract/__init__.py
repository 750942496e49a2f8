"""The contract as published: docs/contract.md for regency developers and docs/asyncapi.yaml for tools.

Both documents are pure functions of the contract (schemas/), the channels (topics/) and the addresses the caller
passes in, so the names they print are the names the code uses. Only the `simpul docs` command imports this package.
"""
