//! `aisle-log-embedded`: The embedded runtime: Aisle's own durable log on local disk.
