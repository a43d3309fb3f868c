"""Operations: health, readiness and status endpoints."""
