"""The tenants service: tenant records, API keys and per-tenant config, in Redis."""
