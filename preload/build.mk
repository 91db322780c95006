# preload/: build rules (filled in by the preload work).
