-- Geolocation answers per IP address. A NULL location records that the provider knows
-- nothing of the address, so it is not asked again before expires_at either.
CREATE TABLE geo_cache (
    ip          TEXT PRIMARY KEY,
    location    TEXT,
    source      TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX geo_cache_expiry ON geo_cache (expires_at);

-- User choices that are not per tenant (the geolocation provider, …), as JSON.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
