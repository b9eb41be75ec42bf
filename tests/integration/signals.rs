//! SIGINT and SIGTERM end every command with exit 1 and the report of
//! what ran; results in hand are kept; nothing half-written is left.
