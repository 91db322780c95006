# cli/: build rules (filled in by the cli work).
