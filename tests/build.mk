# tests/: test programs. Every $(BUILD)/tests/*.t is run by tests/run-tests.sh
# under prove (TAP); tests/*.t shell scripts are run too.
