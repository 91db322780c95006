# bench/: benchmark programs (make bench).
