"""The REST endpoints by resource; each module lists its routes next to its handlers (see simulator/api.py)."""
