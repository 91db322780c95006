# bpf/: build rules (filled in by the bpf work).
